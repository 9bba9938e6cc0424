"""The capacity search's decisions (pure functions on synthetic steps) and its recommendation's arithmetic."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bankmarketing_client import capacity
from bankmarketing_client.capacity import Step, Window


def step(rate: float, passed: bool, *, service_ms: float = 20.0, behind: bool = False) -> Step:
    return Step(
        rate_rps=rate, achieved_rps=rate, p50_ms=10.0, p95_ms=20.0, p99_ms=30.0 if passed else 900.0, p999_ms=40.0,
        error_ratio=0.0, ratio_429=0.0, dropped=0, passed=passed, requests=1000, service_mean_ms=service_ms,
        generator_behind=behind,
    )  # fmt: skip


def search(knee: float, *, start: float = 100.0, cap: float = 5000.0) -> list[Step]:
    """The steps the search takes against an endpoint that passes below ``knee`` exactly."""
    steps: list[Step] = []
    while (rate := capacity.next_rate(steps, start_rps=start, max_rps=cap)) is not None:
        steps.append(step(rate, rate <= knee))
        assert len(steps) < 40
    return steps


@pytest.mark.parametrize("knee", [130.0, 470.0, 1999.0])
def test_the_search_steps_up_to_the_first_breach_then_brackets_the_knee_within_5_percent(knee: float) -> None:
    steps = search(knee)
    rates = [s.rate_rps for s in steps]
    first_breach = next(i for i, s in enumerate(steps) if not s.passed)
    assert rates[: first_breach + 1] == [100.0 * 2**i for i in range(first_breach + 1)]  # geometric up
    found = capacity.capacity_rps(steps)
    assert found is not None
    assert found <= knee
    lowest_breach = min(s.rate_rps for s in steps if not s.passed)
    assert lowest_breach - found <= 0.05 * found
    assert lowest_breach > knee


def test_the_search_stops_at_the_safety_cap_and_steps_down_from_a_breaching_start() -> None:
    assert [s.rate_rps for s in search(10_000.0, cap=700.0)] == [100.0, 200.0, 400.0, 700.0]
    down = search(30.0)
    assert [s.rate_rps for s in down[:3]] == [100.0, 50.0, 25.0]  # down to the first pass, then bisect
    assert capacity.capacity_rps(down) == max(s.rate_rps for s in down if s.passed)
    nothing = search(1.0)
    assert [s.rate_rps for s in nothing] == [100.0, 50.0, 25.0, 12.5]  # the floor: start / 8
    assert capacity.capacity_rps(nothing) is None


def test_the_search_stays_below_a_step_whose_generator_fell_behind() -> None:
    steps = [step(100.0, True), step(200.0, False, behind=True)]
    assert capacity.next_rate(steps, start_rps=100.0, max_rps=5000.0) == 150.0
    assert capacity.capacity_rps(steps) == 100.0


def test_stability_needs_three_windows_within_10_percent() -> None:
    assert not capacity.stable([Window(100, 50), Window(100, 50)])
    assert capacity.stable([Window(80, 90), Window(100, 50), Window(101, 52), Window(99, 51)])
    assert not capacity.stable([Window(100, 50), Window(100, 60), Window(100, 50)])
    assert not capacity.stable([Window(100, 50), Window(120, 50), Window(100, 50)])


def test_the_recommendation_takes_the_larger_of_the_throughput_and_the_concurrency_bound() -> None:
    steps = [step(100.0, True), step(200.0, True, service_ms=40.0), step(400.0, False), step(300.0, False)]
    # throughput: ceil(1000 / (200 / 2 x 0.7)) = 15; concurrency: 1000 x 0.04 / 0.7 = 57.1 -> ceil(57.1 / 8) = 8
    rec = capacity.recommend(
        steps, target_rps=1000.0, utilisation=0.7, measured_instances=2, max_concurrent_per_instance=8
    )
    assert rec is not None
    assert (rec.instance_count, rec.max_concurrent_requests_per_instance) == (15, 8)
    assert rec.basis["decided_by"] == "throughput"
    assert rec.basis["capacity_per_instance_rps"] == 100.0
    assert rec.basis["request_time_ms"] == 40.0  # measured at the highest pass, below the knee
    # With Azure's default concurrency (1) and no settings: one instance measured, concurrency decides.
    alone = capacity.recommend(steps, target_rps=1000.0)
    assert alone is not None
    assert alone.instance_count == max(math.ceil(1000 / (200 * 0.7)), math.ceil(1000 * 0.04 / 0.7))  # 8 vs 58
    assert alone.basis["decided_by"].startswith("concurrency")
    assert "assumed 1" in alone.basis["measured_instances_from"]
    assert capacity.recommend([step(100.0, False)], target_rps=10.0) is None


def test_the_concurrency_knee_is_the_smallest_reaching_90_percent_of_the_best() -> None:
    assert capacity.concurrency_knee([(1, 100.0), (2, 190.0), (4, 370.0), (8, 400.0), (16, 405.0)]) == 4
    assert capacity.concurrency_knee([]) is None


def test_reports_are_written_and_hold_no_infinity(tmp_path: Path) -> None:
    empty = Step(
        rate_rps=400.0, achieved_rps=0.0, p50_ms=math.inf, p95_ms=math.inf, p99_ms=math.inf, p999_ms=math.inf,
        error_ratio=1.0, ratio_429=0.0, dropped=0, passed=False,
    )  # fmt: skip
    steps = [step(100.0, True), step(200.0, False), empty]
    data = capacity.report(steps, capacity.recommend(steps, target_rps=None), slo_p99_ms=250.0, max_error_ratio=0.001)
    written = capacity.write_reports(tmp_path / "out", data)
    assert [p.name for p in written] == ["capacity.json", "capacity.csv", "capacity.png", "capacity.html"]
    saved = json.loads((tmp_path / "out" / "capacity.json").read_text(), parse_constant=pytest.fail)
    assert saved["capacity_rps"] == 100.0
    assert saved["steps"][2]["p99_ms"] is None
    assert (tmp_path / "out" / "capacity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "data:image/png;base64," in (tmp_path / "out" / "capacity.html").read_text()
    assert len((tmp_path / "out" / "capacity.csv").read_text().splitlines()) == 4
