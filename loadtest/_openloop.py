"""The open model's arithmetic: arrival schedules, latency histograms and the sample-size rule. Plain Python.

Kept apart from the Locust glue (:mod:`_common`, :mod:`openloop`) so that pytest and the ``capacity`` command's
pure parts can import it without gevent's monkey-patching.

Schedules: ``--arrival-rate R`` is the whole run's rate. Worker ``k`` of ``n`` sends its share of it:

* ``constant``: the arrivals ``k, k + n, k + 2n, ...`` of one evenly spaced schedule of rate ``R`` (offsets
  ``j / R``), so the workers interleave and together send exactly the single-process schedule;
* ``poisson``: an independent Poisson stream of rate ``R / n`` seeded by ``(seed, k)``; a superposition of
  Poisson streams is a Poisson stream of rate ``R``.

Latencies are kept in HdrHistograms (``hdrhistogram`` on PyPI) at 3 significant digits, in microseconds, from
1 us to 1 hour: a percentile read from one is within 0.1 % of the recorded value. Locust's own stats round to
about 2 significant digits, so the gates read these instead.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from hdrh.histogram import HdrHistogram

#: Significant digits the histograms keep (HdrHistogram's precision parameter).
SIGNIFICANT_DIGITS: Final = 3
_LOWEST_US: Final = 1
_HIGHEST_US: Final = 3_600_000_000  # one hour

#: The percentiles every summary reports, and their names.
PERCENTILES: Final[tuple[tuple[str, float], ...]] = (
    ("p50_ms", 50.0),
    ("p95_ms", 95.0),
    ("p99_ms", 99.0),
    ("p999_ms", 99.9),
)

#: The sample-size rule: a percentile q is supported once at least this many samples lie beyond it.
TAIL_SAMPLES: Final = 10


def samples_needed(percentile: float) -> int:
    """The fewest samples whose ``percentile`` (0..100) has :data:`TAIL_SAMPLES` samples beyond it.

    p95 needs 200, p99 1,000, p99.9 10,000. With fewer, the "percentile" is the sample's maximum or close to
    it, and one slow request decides the gate: such a gate is not supported and must not pass.
    """
    if not 0.0 < percentile < 100.0:
        raise ValueError(f"a percentile lies between 0 and 100, not {percentile}")
    return math.ceil(TAIL_SAMPLES * 100.0 / (100.0 - percentile) - 1e-9)


# -- schedules -----------------------------------------------------------------------------------------------


ARRIVALS: Final = ("constant", "poisson")


@dataclass(frozen=True)
class Schedule:
    """One process's share of the run's arrival schedule: offsets in seconds from the schedule's start."""

    rate: float
    arrival: str = "constant"
    seed: int = 42
    index: int = 0
    workers: int = 1

    def __post_init__(self) -> None:
        if not self.rate > 0 or not math.isfinite(self.rate):
            raise ValueError(f"--arrival-rate must be above 0 requests/s, not {self.rate}")
        if self.arrival not in ARRIVALS:
            raise ValueError(f"--arrival must be one of {', '.join(ARRIVALS)}, not {self.arrival!r}")
        if not 0 <= self.index < self.workers:
            raise ValueError(f"worker index {self.index} is not below the worker count {self.workers}")

    @property
    def share(self) -> float:
        """This process's rate, requests/s."""
        return self.rate / self.workers

    def offsets(self) -> Iterator[float]:
        """Send times, seconds after the start, without end."""
        if self.arrival == "constant":
            j = 0
            while True:
                yield (self.index + j * self.workers) / self.rate
                j += 1
        rng = random.Random(f"{self.seed}:{self.index}")
        share = self.share
        t = 0.0
        while True:
            t += rng.expovariate(share)
            yield t


# -- histograms ----------------------------------------------------------------------------------------------


def new_histogram() -> HdrHistogram:
    return HdrHistogram(_LOWEST_US, _HIGHEST_US, SIGNIFICANT_DIGITS)


def record_ms(histogram: HdrHistogram, milliseconds: float) -> None:
    """Record one latency; values beyond the histogram's range are clamped to it, never dropped."""
    micros = min(max(round(milliseconds * 1000.0), _LOWEST_US), _HIGHEST_US)
    histogram.record_value(micros)


def percentile_ms(histogram: HdrHistogram, percentile: float) -> float:
    return float(histogram.get_value_at_percentile(percentile)) / 1000.0


def value_counts(histogram: HdrHistogram) -> list[tuple[int, int]]:
    """Every recorded value (microseconds, its bucket's highest equivalent) with its count, read from the counts
    array: hdrhistogram's recorded iterator (0.10) drops some counts (600 recorded, ~535 iterated)."""
    pairs = []
    for index in range(histogram.counts_len):
        count = histogram.get_count_at_index(index)
        if count:
            value = histogram.get_highest_equivalent_value(histogram.get_value_from_index(index))
            pairs.append((int(value), int(count)))
    return pairs


def summarise(histogram: HdrHistogram) -> dict[str, float | int]:
    """Count, mean and the reported percentiles of one histogram, in milliseconds."""
    count = int(histogram.get_total_count())
    summary: dict[str, float | int] = {"count": count}
    if count:
        summary["mean_ms"] = round(float(histogram.get_mean_value()) / 1000.0, 3)
        summary["max_ms"] = float(histogram.get_max_value()) / 1000.0
        for name, percentile in PERCENTILES:
            summary[name] = percentile_ms(histogram, percentile)
    return summary


@dataclass
class Recorder:
    """Histograms by name: each request name, ``@DEPLOYMENT`` for each deployment, and ``Aggregated``."""

    histograms: dict[str, HdrHistogram] = field(default_factory=dict)

    def record(self, name: str, milliseconds: float, deployment: str | None = None) -> None:
        for key in (name, f"@{deployment}" if deployment else None, AGGREGATED):
            if key is None:
                continue
            histogram = self.histograms.get(key)
            if histogram is None:
                histogram = self.histograms[key] = new_histogram()
            record_ms(histogram, milliseconds)

    def encode(self) -> dict[str, str]:
        """Compressed, base64 text of each histogram: what a worker sends its master."""
        return {name: histogram.encode().decode("ascii") for name, histogram in self.histograms.items()}

    @classmethod
    def merged(cls, encoded: Iterable[Mapping[str, str]]) -> Recorder:
        """One recorder holding every worker's samples."""
        recorder = cls()
        for histograms in encoded:
            for name, text in histograms.items():
                decoded = HdrHistogram.decode(text.encode("ascii"))
                target = recorder.histograms.get(name)
                if target is None:
                    target = recorder.histograms[name] = new_histogram()
                target.add(decoded)
        return recorder

    def add(self, other: Recorder) -> None:
        for name, histogram in other.histograms.items():
            target = self.histograms.get(name)
            if target is None:
                target = self.histograms[name] = new_histogram()
            target.add(histogram)

    def count(self, name: str = "Aggregated") -> int:
        histogram = self.histograms.get(name)
        return 0 if histogram is None else int(histogram.get_total_count())

    def summaries(self) -> dict[str, dict[str, float | int]]:
        return {name: summarise(histogram) for name, histogram in sorted(self.histograms.items())}


AGGREGATED: Final = "Aggregated"


def deployment_of(name: str) -> str | None:
    """The deployment a per-deployment row name ends with (``/score [open] @green`` -> ``green``), or None."""
    head, sep, tail = name.rpartition(" @")
    return tail if sep and head and tail else None


# -- the generator's own account ------------------------------------------------------------------------------


#: The generator fell behind when more than 1 % of its sends left later than this after their scheduled time.
DEFAULT_MAX_LAG_MS: Final = 50.0
BEHIND_SHARE: Final = 0.01


@dataclass
class OpenLoopCounts:
    """What one process's pacing loop did: arrivals scheduled, requests sent, dropped at the outstanding cap,
    and how late each send left (a histogram of send lag)."""

    scheduled: int = 0
    sent: int = 0
    dropped: int = 0
    lag: HdrHistogram = field(default_factory=new_histogram)
    index: int = 0

    def to_message(self) -> dict[str, Any]:
        return {
            "scheduled": self.scheduled,
            "sent": self.sent,
            "dropped": self.dropped,
            "lag": self.lag.encode().decode("ascii"),
            "index": self.index,
        }

    @classmethod
    def from_message(cls, data: Mapping[str, Any]) -> OpenLoopCounts:
        return cls(
            scheduled=int(data["scheduled"]),
            sent=int(data["sent"]),
            dropped=int(data["dropped"]),
            lag=HdrHistogram.decode(str(data["lag"]).encode("ascii")),
            index=int(data["index"]),
        )


@dataclass(frozen=True)
class GeneratorAccount:
    """Every process's counts together, and whether the generator kept its schedule."""

    scheduled: int
    sent: int
    dropped: int
    lag_p99_ms: float
    late_share: float
    max_lag_ms: float
    by_worker: dict[int, int]

    @property
    def fell_behind(self) -> bool:
        return self.late_share > BEHIND_SHARE

    @classmethod
    def of(cls, counts: Iterable[OpenLoopCounts], *, max_lag_ms: float = DEFAULT_MAX_LAG_MS) -> GeneratorAccount:
        lag = new_histogram()
        scheduled = sent = dropped = 0
        by_worker: dict[int, int] = {}
        for part in counts:
            lag.add(part.lag)
            scheduled += part.scheduled
            sent += part.sent
            dropped += part.dropped
            by_worker[part.index] = by_worker.get(part.index, 0) + part.sent
        total = int(lag.get_total_count())
        late = 0
        if total:
            threshold_us = max_lag_ms * 1000.0
            late = sum(count for value, count in value_counts(lag) if value > threshold_us)
        return cls(
            scheduled=scheduled,
            sent=sent,
            dropped=dropped,
            lag_p99_ms=percentile_ms(lag, 99.0) if total else 0.0,
            late_share=late / total if total else 0.0,
            max_lag_ms=max_lag_ms,
            by_worker=dict(sorted(by_worker.items())),
        )

    def line(self) -> str:
        state = "FELL BEHIND its schedule" if self.fell_behind else "kept its schedule"
        return (
            f"open loop: {self.scheduled} arrivals scheduled, {self.sent} sent, {self.dropped} dropped "
            f"(--max-outstanding); send lag p99 {self.lag_p99_ms:g} ms, {self.late_share:.2%} later than "
            f"{self.max_lag_ms:g} ms: the generator {state}"
        )


# -- comparing two deployments --------------------------------------------------------------------------------

#: A difference smaller than this is not reported as one, however sure: it decides no canary.
MIN_EFFECT_MS: Final = 1.0


def _values_ms(histogram: HdrHistogram) -> Any:
    import numpy as np

    pairs = value_counts(histogram)
    values = np.array([value for value, _ in pairs], dtype=float) / 1000.0
    counts = np.array([count for _, count in pairs], dtype=int)
    return np.repeat(values, counts)


def compare(
    name_a: str,
    a: HdrHistogram,
    name_b: str,
    b: HdrHistogram,
    *,
    confidence: float = 0.99,
    resamples: int = 2000,
    seed: int = 42,
) -> dict[str, Any]:
    """How much slower ``b`` is than ``a``: the difference of medians with a bootstrap confidence interval, the
    p99 difference, a Mann-Whitney U test's p-value and both sample sizes, so a canary decision is not made on
    noise. The verdict names a difference only when the interval excludes 0 by at least :data:`MIN_EFFECT_MS`."""
    import numpy as np
    from scipy.stats import mannwhitneyu  # type: ignore[import-untyped]

    x, y = _values_ms(a), _values_ms(b)
    result: dict[str, Any] = {"a": name_a, "b": name_b, "n_a": int(x.size), "n_b": int(y.size)}
    if x.size < 2 or y.size < 2:
        return {**result, "verdict": "not enough samples to compare"}
    rng = np.random.default_rng(seed)
    medians_x = np.median(rng.choice(x, size=(resamples, x.size)), axis=1)
    medians_y = np.median(rng.choice(y, size=(resamples, y.size)), axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(medians_y - medians_x, [tail, 1.0 - tail])
    difference = float(np.median(y) - np.median(x))
    p_value = float(mannwhitneyu(x, y, alternative="two-sided").pvalue)
    if low >= MIN_EFFECT_MS:
        verdict = f"{name_b} is slower than {name_a}"
    elif high <= -MIN_EFFECT_MS:
        verdict = f"{name_b} is faster than {name_a}"
    else:
        verdict = "no difference shown"
    return {
        **result,
        "median_a_ms": float(np.median(x)),
        "median_b_ms": float(np.median(y)),
        "median_difference_ms": round(difference, 3),
        "confidence": confidence,
        "median_difference_ci_ms": [round(float(low), 3), round(float(high), 3)],
        "p99_difference_ms": round(float(np.percentile(y, 99) - np.percentile(x, 99)), 3),
        "mann_whitney_p": p_value,
        "verdict": verdict,
    }
