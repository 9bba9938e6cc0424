"""Progress: a one-line bar with rows/s and ETA on a terminal, silence otherwise; and the final summary.

The bar redraws at most a few times a second on stderr, so it costs nothing measurable and never mixes with
output written to stdout or a pipe.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

REDRAW_SECONDS: Final = 0.25
BAR_WIDTH: Final = 28


@dataclass
class BatchSummary:
    """What a batch run did. ``ok`` is True when every input row got a prediction."""

    rows: int = 0
    scored: int = 0
    rejected: int = 0
    failed: int = 0
    retries: int = 0
    elapsed: float = 0.0
    resumed_rows: int = 0
    batch_size: int = 0
    concurrency: int = 0
    output: Path | None = None
    errors_path: Path | None = None
    stopped_early: bool = False

    @property
    def ok(self) -> bool:
        return self.rejected == 0 and self.failed == 0 and not self.stopped_early

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.elapsed if self.elapsed > 0 else 0.0

    def lines(self) -> list[str]:
        out = [
            f"rows:      {self.rows:,} ({self.scored:,} scored, {self.rejected:,} rejected, {self.failed:,} failed)",
            f"retries:   {self.retries:,}",
            f"elapsed:   {self.elapsed:.2f} s ({self.rows_per_second:,.0f} rows/s)",
            f"tuning:    batch size {self.batch_size:,}, concurrency {self.concurrency}",
        ]
        if self.resumed_rows:
            out.append(f"resumed:   after {self.resumed_rows:,} rows done by an earlier run")
        if self.output is not None:
            out.append(f"output:    {self.output}")
        if self.errors_path is not None:
            out.append(f"errors:    {self.errors_path}")
        if self.stopped_early:
            out.append("stopped:   at the first invalid row (--fail-fast); no output written")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class Progress:
    """Draws the bar when ``enabled`` (default: stderr is a terminal)."""

    def __init__(self, total: int | None = None, *, enabled: bool | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total = total
        self.done = 0
        self._start = time.monotonic()
        self._base = 0
        self._last = 0.0

    def start(self, already_done: int = 0) -> None:
        self._start = time.monotonic()
        self._base = self.done = already_done

    def advance(self, rows: int) -> None:
        self.done += rows
        now = time.monotonic()
        if self.enabled and now - self._last >= REDRAW_SECONDS:
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self._start, 1e-9)
        rate = (self.done - self._base) / elapsed
        if self.total:
            share = min(1.0, self.done / self.total)
            filled = int(share * BAR_WIDTH)
            eta = (self.total - self.done) / rate if rate > 0 else 0.0
            text = (
                f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:6.1%} "
                f"{self.done:,}/{self.total:,} rows  {rate:,.0f} rows/s  ETA {_duration(eta)} "
            )
        else:
            text = f"\r{self.done:,} rows  {rate:,.0f} rows/s  elapsed {_duration(elapsed)} "
        self.stream.write(text)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
