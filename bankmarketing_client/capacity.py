"""The capacity search's decisions and reports: which rate to try next, when a step is stable, what to deploy.

Plain Python (no Locust): the ``capacity`` command (``bankmarketing_client.cli.capacity``) measures steps with
the open-loop load test and asks this module what they mean.

* A step sends Poisson arrivals at one rate; after a warm-up it is measured in windows until the last
  :data:`STABLE_WINDOWS` agree within :data:`STABLE_SPREAD` (p99 and achieved rate, as Triton's perf_analyzer
  decides), and its figures are those windows together.
* A step passes when its p99 is within the SLO and its error ratio (failures, 429s and dropped arrivals over
  all arrivals) within ``--max-error-ratio``. The search steps up by :data:`GROWTH` to the first breach, then
  bisects until the highest pass and the lowest breach are within :data:`BRACKET` of each other.
* The recommendation sizes a deployment for a target rate two ways and takes the larger: throughput (the
  target over the measured capacity per instance, with ``--utilisation`` as headroom) and Azure's sizing
  guidance (concurrent requests = rate x request time / utilisation, ``instance_count = ceil(concurrent /
  max_concurrent_requests_per_instance)``), with the request time measured below the knee.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

GROWTH: Final = 2.0
#: The lowest rate tried is the start over this.
FLOOR: Final = 8.0
BRACKET: Final = 0.05
STABLE_WINDOWS: Final = 3
STABLE_SPREAD: Final = 0.10
#: Azure's own sizing example keeps instances 70 % busy.
DEFAULT_UTILISATION: Final = 0.7
DEFAULT_MAX_ERROR_RATIO: Final = 0.001
#: Azure's default for managed online deployments, when no --endpoint-settings says otherwise.
AZURE_DEFAULT_MAX_CONCURRENT: Final = 1


@dataclass(frozen=True)
class Window:
    """One measurement window of a step."""

    achieved_rps: float
    p99_ms: float


def stable(windows: Sequence[Window]) -> bool:
    """The last :data:`STABLE_WINDOWS` windows agree: p99 and achieved rate each within 10 % of their mean."""
    if len(windows) < STABLE_WINDOWS:
        return False
    last = windows[-STABLE_WINDOWS:]
    for values in ([w.p99_ms for w in last], [w.achieved_rps for w in last]):
        mean = sum(values) / len(values)
        if mean > 0 and (max(values) - min(values)) > STABLE_SPREAD * mean:
            return False
    return True


@dataclass(frozen=True)
class Step:
    """One rate's figures (latency from the scheduled send time; service time from the actual send)."""

    rate_rps: float
    achieved_rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    p999_ms: float
    error_ratio: float
    ratio_429: float
    dropped: int
    passed: bool
    requests: int = 0
    service_mean_ms: float = 0.0
    windows: int = 0
    stable: bool = True
    generator_behind: bool = False


def passes(p99_ms: float, error_ratio: float, *, slo_p99_ms: float, max_error_ratio: float) -> bool:
    return p99_ms <= slo_p99_ms and error_ratio <= max_error_ratio


def next_rate(steps: Sequence[Step], *, start_rps: float, max_rps: float) -> float | None:
    """The next rate to measure, or None when the search is done.

    Up by :data:`GROWTH` from ``start_rps`` (down, to ``start_rps / FLOOR``, if the start breaches) until a step breaches (or ``max_rps``, the safety cap, is reached),
    then bisect between the highest pass and the lowest breach until they are within :data:`BRACKET`. A step
    whose generator fell behind never passes (its figures measure the generator, not the endpoint), so the
    search stays below it; the report marks it.
    """
    if not steps:
        return min(start_rps, max_rps)
    passed = [s.rate_rps for s in steps if s.passed]
    breached = [s.rate_rps for s in steps if not s.passed]
    if not passed:  # the start breached: step down, to start_rps / FLOOR at the lowest
        lower = min(breached) / GROWTH
        return lower if lower >= start_rps / FLOOR - 1e-9 else None
    if not breached:
        highest = max(passed)
        if highest >= max_rps:
            return None
        return min(highest * GROWTH, max_rps)
    low_breach = min(breached)
    below = [rate for rate in passed if rate < low_breach]
    if not below:
        return None  # the lowest rate tried breached: nothing passes
    high_pass = max(below)
    if (low_breach - high_pass) <= BRACKET * high_pass:
        return None
    return (high_pass + low_breach) / 2.0


def capacity_rps(steps: Sequence[Step]) -> float | None:
    """The highest passing rate below the lowest breach (None: nothing passed)."""
    breached = [s.rate_rps for s in steps if not s.passed]
    ceiling = min(breached) if breached else math.inf
    passed = [s for s in steps if s.passed and s.rate_rps < ceiling]
    return max((s.rate_rps for s in passed), default=None)


@dataclass(frozen=True)
class Recommendation:
    target_rps: float
    instance_count: int
    max_concurrent_requests_per_instance: int
    basis: dict[str, Any] = field(default_factory=dict)


def recommend(
    steps: Sequence[Step],
    *,
    target_rps: float | None,
    utilisation: float = DEFAULT_UTILISATION,
    measured_instances: int | None = None,
    max_concurrent_per_instance: int | None = None,
    concurrency_at_knee: int | None = None,
) -> Recommendation | None:
    """Instances and per-instance concurrency for ``target_rps`` (default: the measured capacity), or None when
    no step passed. ``measured_instances`` / ``max_concurrent_per_instance``: the measured deployment's, from
    ``--endpoint-settings``; without them it counts as one instance with Azure's default concurrency, and the
    basis says so. ``concurrency_at_knee`` (a ``--concurrency`` sweep) is proposed as the new per-instance
    concurrency."""
    capacity = capacity_rps(steps)
    if capacity is None:
        return None
    knee = max((s for s in steps if s.passed and s.rate_rps == capacity), key=lambda s: s.rate_rps)
    instances = measured_instances or 1
    per_instance = capacity / instances
    target = capacity if target_rps is None else target_rps
    by_throughput = max(1, math.ceil(target / (per_instance * utilisation) - 1e-9))
    concurrency = concurrency_at_knee or max_concurrent_per_instance or AZURE_DEFAULT_MAX_CONCURRENT
    request_time_s = knee.service_mean_ms / 1000.0
    concurrent = target * request_time_s / utilisation
    by_concurrency = max(1, math.ceil(concurrent / concurrency - 1e-9))
    instance_count = max(by_throughput, by_concurrency)
    basis: dict[str, Any] = {
        "capacity_rps": capacity,
        "measured_instances": instances,
        "measured_instances_from": "--endpoint-settings"
        if measured_instances
        else "assumed 1: no --endpoint-settings gave the measured deployment's instance_count",
        "capacity_per_instance_rps": per_instance,
        "utilisation": utilisation,
        "throughput_bound": f"ceil({target:g} / ({per_instance:.4g} x {utilisation:g})) = {by_throughput}",
        "request_time_ms": knee.service_mean_ms,
        "request_time_from": f"mean service time at {capacity:g} requests/s, the highest passing step",
        "concurrent_requests": f"{target:g} x {request_time_s:.4g} s / {utilisation:g} = {concurrent:.4g}",
        "concurrency_bound": f"ceil({concurrent:.4g} / {concurrency}) = {by_concurrency}",
        "max_concurrent_from": "the --concurrency sweep's knee"
        if concurrency_at_knee
        else "--endpoint-settings"
        if max_concurrent_per_instance
        else f"Azure's default ({AZURE_DEFAULT_MAX_CONCURRENT}): no --endpoint-settings or --concurrency sweep",
        "decided_by": "throughput" if by_throughput >= by_concurrency else "concurrency (Azure's sizing guidance)",
    }
    return Recommendation(target, instance_count, concurrency, basis)


def concurrency_knee(points: Sequence[tuple[int, float]], *, share: float = 0.9) -> int | None:
    """The smallest concurrency whose throughput reaches ``share`` of the sweep's best: beyond it, more requests
    in flight only queue. ``points``: (concurrency, achieved requests/s)."""
    if not points:
        return None
    best = max(rps for _, rps in points)
    return min(c for c, rps in points if rps >= share * best)


# -- reports -------------------------------------------------------------------------------------------------

CSV_FIELDS: Final = (
    "rate_rps", "achieved_rps", "p50_ms", "p95_ms", "p99_ms", "p999_ms", "error_ratio", "ratio_429", "dropped",
    "passed", "requests", "service_mean_ms", "windows", "stable", "generator_behind",
)  # fmt: skip


def report(
    steps: Sequence[Step],
    recommendation: Recommendation | None,
    *,
    slo_p99_ms: float,
    max_error_ratio: float,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = _finite(
        {
            "capacity_rps": capacity_rps(steps),
            "slo_p99_ms": slo_p99_ms,
            "max_error_ratio": max_error_ratio,
            "steps": [asdict(step) for step in steps],
            "recommendation": None if recommendation is None else asdict(recommendation),
            **(extra or {}),
        }
    )
    return data


def _finite(value: Any) -> Any:
    """JSON has no infinity: a step without answers has no percentiles (None), not Infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_reports(folder: Path, data: dict[str, Any]) -> list[Path]:
    """capacity.json, capacity.csv, capacity.png and capacity.html (the picture and the table in one file)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "capacity.json", folder / "capacity.csv", folder / "capacity.png", folder / "capacity.html"]
    written[0].write_text(json.dumps(data, indent=2) + "\n")
    with written[1].open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(data["steps"])
    png = plot(data)
    written[2].write_bytes(png)
    written[3].write_text(_html(data, png))
    return written


def plot(data: dict[str, Any]) -> bytes:
    """Latency percentiles against achieved throughput, the SLO line and the knee, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = sorted(data["steps"], key=lambda s: s["achieved_rps"])
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=100)
    x = [s["achieved_rps"] for s in steps]
    for key, label in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99"), ("p999_ms", "p99.9")):
        axes.plot(x, [s[key] for s in steps], marker="o", label=label)
    axes.axhline(data["slo_p99_ms"], color="red", linestyle="--", label=f"SLO p99 {data['slo_p99_ms']:g} ms")
    knee = data.get("capacity_rps")
    if knee is not None:
        at = [s for s in steps if s["rate_rps"] == knee]
        if at:
            axes.axvline(at[0]["achieved_rps"], color="grey", linestyle=":", label=f"capacity {knee:.4g} req/s")
    axes.set_yscale("log")
    axes.set_xlabel("achieved throughput (requests/s)")
    axes.set_ylabel("latency from scheduled send (ms)")
    axes.set_title("Open-loop capacity search (Poisson arrivals)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="upper left", fontsize=8)
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def _html(data: dict[str, Any], png: bytes) -> str:
    head = "".join(f"<th>{html.escape(name)}</th>" for name in CSV_FIELDS)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(step[name]))}</td>" for name in CSV_FIELDS) + "</tr>"
        for step in data["steps"]
    )
    recommendation = html.escape(json.dumps(data.get("recommendation"), indent=2))
    image = base64.b64encode(png).decode("ascii")
    capacity = data.get("capacity_rps")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>capacity</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:2px 6px;text-align:right}</style></head><body>"
        f"<h1>Capacity: {html.escape(_cell(capacity))} requests/s at p99 &le; {data['slo_p99_ms']:g} ms</h1>"
        f"<img alt='latency against throughput' src='data:image/png;base64,{image}'>"
        f"<table><tr>{head}</tr>{rows}</table><h2>Recommendation</h2><pre>{recommendation}</pre></body></html>\n"
    )


def _cell(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
