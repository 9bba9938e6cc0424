"""Batch size and concurrency, found from measured throughput while the real rows are being scored.

Nothing is sent just to probe: the first requests of a run are the measurements. Throughput is measured in
windows of completed requests (rows per wall-clock second); after each change the requests already in flight
are let through before a new window starts, so a window sees only the setting it judges.

1. **Batch size** doubles from ``initial_batch`` while each doubling raises throughput by at least
   ``min_gain`` and the median request stays under ``target_latency`` (well inside Azure's 5 s request
   timeout). Bigger batches amortise the per-request cost (HTTP, JSON, the model's call overhead).
2. **Concurrency** then grows by one while that still raises throughput: enough requests in flight to keep
   every worker busy while answers travel, and no more, because extra requests only queue at the endpoint.
3. **Steady state**: a 429 or 408 lowers concurrency by one at once (a 408 also halves the batch); after a run
   of clean requests it climbs back towards the tuned value. A 413 caps the batch size for good.

Concurrency starts at 3: Azure's default deployment serves 2 requests at once and queues up to 4, so a third
request waiting at the front keeps both workers busy while the client handles an answer; the search and the
429 rule move it from there. Manual ``batch_size`` / ``concurrency`` skip their search; concurrency still backs
off on 429/408. Given the endpoint's pending limit (:func:`tuner_settings` with ``limits``, e.g. from discovery),
concurrency starts at that limit and never searches above it: Azure's own settings say where 429s begin, so
nothing is probed.
"""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from bankmarketing_client.limits import checked_pending_limit

if TYPE_CHECKING:
    from bankmarketing_client.limits import EndpointLimits

logger = logging.getLogger("bankmarketing_client.batch.tuner")

Phase = Literal["batch", "concurrency", "steady"]
RECOVERY_STREAK: Final = 10


@dataclass(frozen=True)
class TunerSettings:
    """Limits and manual overrides of the tuner (``None`` means "find it")."""

    batch_size: int | None = None
    concurrency: int | None = None
    initial_batch: int = 2000
    max_batch: int = 4000
    initial_concurrency: int = 3
    max_concurrency: int = 16
    target_latency: float = 1.0
    min_gain: float = 0.05
    window_seconds: float = 0.5
    window_requests: int = 6


def tuner_settings(
    batch_size: int | None = None, concurrency: int | None = None, limits: EndpointLimits | None = None
) -> TunerSettings:
    """The settings of a run: manual values as given; with ``limits``, concurrency starts at and is capped by the
    endpoint's pending limit (a manual ``concurrency`` is still the user's call)."""
    if limits is None:
        return TunerSettings(batch_size=batch_size, concurrency=concurrency)
    limit = checked_pending_limit(limits)
    return TunerSettings(
        batch_size=batch_size, concurrency=concurrency, initial_concurrency=limit, max_concurrency=limit
    )


class Tuner:
    """Decides the size of the next batch and how many requests may be in flight."""

    def __init__(self, settings: TunerSettings | None = None) -> None:
        s = self.settings = settings or TunerSettings()
        if (s.batch_size is not None and s.batch_size < 1) or (s.concurrency is not None and s.concurrency < 1):
            raise ValueError("batch size and concurrency must be at least 1")
        self.batch_size = s.batch_size or s.initial_batch
        self.max_batch = s.batch_size or s.max_batch
        self.tuned_concurrency = s.concurrency or s.initial_concurrency
        self.concurrency = self.tuned_concurrency
        self.phase: Phase = "batch" if s.batch_size is None else "concurrency"
        if self.phase == "concurrency" and s.concurrency is not None:
            self.phase = "steady"
        self._best: tuple[float, int, int] | None = None  # (rows/s, batch, concurrency)
        self._skip = 0
        self._window_start: float | None = None
        self._window_rows = 0
        self._latencies: list[float] = []
        self._streak = 0

    def __repr__(self) -> str:
        return f"Tuner(phase={self.phase}, batch_size={self.batch_size}, concurrency={self.concurrency})"

    # -- events ------------------------------------------------------------------------------------------------
    def on_success(self, rows: int, latency: float, *, now: float | None = None) -> None:
        """A request of ``rows`` records answered in ``latency`` seconds."""
        now = time.monotonic() if now is None else now
        self._streak += 1
        if self.phase == "steady":
            if self._streak >= RECOVERY_STREAK and self.concurrency < self.tuned_concurrency:
                self.concurrency += 1
                self._streak = 0
            return
        if self._skip > 0:
            self._skip -= 1
            return
        if self._window_start is None:
            self._window_start = now - latency
        self._window_rows += rows
        self._latencies.append(latency)
        elapsed = now - self._window_start
        if len(self._latencies) < self.settings.window_requests or elapsed < self.settings.window_seconds:
            return
        self._judge(self._window_rows / elapsed, statistics.median(self._latencies))

    def on_throttle(self, status: int | None) -> None:
        """A 429 (too many pending) or 408 (too slow) from the endpoint: fewer requests, smaller for 408."""
        self._streak = 0
        if status == 408 and self.batch_size > 1:
            self.batch_size = max(1, self.batch_size // 2)
            self.max_batch = min(self.max_batch, max(1, self.batch_size))
        if self.phase == "concurrency":  # more in flight than the endpoint accepts: the last step was too far
            self.tuned_concurrency = max(1, self.concurrency - 1)
            self._settle()
        elif self.phase == "batch":
            self._settle_batch()
        self.concurrency = max(1, self.concurrency - 1)
        logger.info("throttled (%s): %r", status, self)

    def on_too_large(self, rows: int) -> None:
        """413: no batch of ``rows`` or more will ever fit."""
        self.max_batch = max(1, min(self.max_batch, rows // 2))
        self.batch_size = min(self.batch_size, self.max_batch)

    # -- decisions ---------------------------------------------------------------------------------------------
    def _reset_window(self) -> None:
        self._window_start = None
        self._window_rows = 0
        self._latencies = []
        self._skip = self.concurrency

    def _judge(self, rate: float, median_latency: float) -> None:
        setting = (rate, self.batch_size, self.concurrency)
        best = self._best
        improved = best is None or rate >= best[0] * (1 + self.settings.min_gain)
        if best is None or rate > best[0]:
            self._best = setting
        logger.info("measured %.0f rows/s at %r (median %.3f s)", rate, self, median_latency)
        if self.phase == "batch":
            can_grow = self.batch_size < self.max_batch and median_latency < self.settings.target_latency
            if improved and can_grow:
                self.batch_size = min(self.max_batch, self.batch_size * 2)
                self._reset_window()
            else:
                self._settle_batch()
        elif self.phase == "concurrency":
            if improved and self.concurrency < self.settings.max_concurrency:
                self.concurrency += 1
                self.tuned_concurrency = self.concurrency
                self._reset_window()
            else:
                self._settle()

    def _settle_batch(self) -> None:
        if self._best is not None:
            self.batch_size = self._best[1]
        self._best = None
        self.phase = "concurrency" if self.settings.concurrency is None else "steady"
        self._reset_window()

    def _settle(self) -> None:
        if self._best is not None and self._best[2] <= self.tuned_concurrency:
            self.tuned_concurrency = self._best[2]
        self.concurrency = self.tuned_concurrency
        self.phase = "steady"
        logger.info("tuned: %r", self)
