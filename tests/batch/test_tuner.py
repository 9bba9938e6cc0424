"""The tuner's decisions, driven by synthetic measurements with an explicit clock (no real time involved)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bankmarketing_client.batch.tuner import RECOVERY_STREAK, Tuner, TunerSettings, tuner_settings
from bankmarketing_client.errors import ConfigurationError
from bankmarketing_client.local.limits import FrontLimits

Rate = Callable[[int, int], float]  # (batch size, concurrency) -> rows per second


def _run(tuner: Tuner, rate: Rate, requests: int, clock: list[float]) -> None:
    """Complete ``requests`` requests at the throughput ``rate`` gives for the tuner's current setting."""
    for _ in range(requests):
        rows = tuner.batch_size
        seconds = rows / rate(rows, tuner.concurrency)
        clock[0] += seconds
        tuner.on_success(rows, seconds * tuner.concurrency, now=clock[0])


def _phase(tuner: Tuner) -> str:
    """The phase read through a function, so that type checkers do not narrow it across calls."""
    return tuner.phase


def test_batch_size_grows_while_it_pays_then_concurrency() -> None:
    # Fixed cost per request: throughput rises with batch size up to 2,000 rows, then flattens.
    def rate(batch: int, concurrency: int) -> float:
        per_request = 0.01 + min(batch, 2000) * 0.00002
        return min(batch, 2000) / per_request * min(concurrency, 3) / 2

    tuner = Tuner(TunerSettings(initial_batch=250, max_batch=16000))
    _run(tuner, rate, 400, [0.0])
    assert tuner.phase == "steady"
    assert tuner.batch_size == 2000
    assert tuner.concurrency == 3


def test_no_gain_keeps_the_first_setting() -> None:
    tuner = Tuner(TunerSettings(initial_batch=500, initial_concurrency=2))
    _run(tuner, lambda batch, concurrency: 10_000.0, 300, [0.0])
    assert (tuner.phase, tuner.batch_size, tuner.concurrency) == ("steady", 500, 2)


def test_batch_stops_growing_at_the_latency_target() -> None:
    fast = Tuner(TunerSettings(initial_batch=1000, target_latency=5.0))
    _run(fast, lambda batch, concurrency: batch * 10.0, 50, [0.0])  # 0.2 s per request: under target, grows
    assert fast.batch_size > 1000
    slow = Tuner(TunerSettings(initial_batch=1000, target_latency=0.05))
    _run(slow, lambda batch, concurrency: 1000.0, 50, [0.0])  # every request takes 2 s: never grow
    assert slow.batch_size == 1000


def test_throttling_backs_off_then_recovers() -> None:
    tuner = Tuner(TunerSettings(batch_size=500, concurrency=4))
    assert tuner.phase == "steady"
    tuner.on_throttle(429)
    tuner.on_throttle(429)
    assert tuner.concurrency == 2
    clock = [0.0]
    _run(tuner, lambda b, c: 10_000.0, RECOVERY_STREAK, clock)
    assert tuner.concurrency == 3
    _run(tuner, lambda b, c: 10_000.0, 5 * RECOVERY_STREAK, clock)
    assert tuner.concurrency == 4  # never above the tuned (here: manual) value
    assert tuner.batch_size == 500


def test_timeouts_halve_the_batch_and_413_caps_it() -> None:
    tuner = Tuner(TunerSettings(initial_batch=800))
    tuner.on_throttle(408)
    assert tuner.batch_size == 400
    tuner.on_too_large(400)
    assert tuner.batch_size == 200
    _run(tuner, lambda batch, concurrency: batch * 100.0, 200, [0.0])  # bigger would pay, but 413 said no
    assert tuner.batch_size <= 200


def test_concurrency_search_stops_at_the_first_429() -> None:
    tuner = Tuner(TunerSettings(batch_size=1000))
    assert _phase(tuner) == "concurrency"
    clock = [0.0]
    _run(tuner, lambda b, c: 5000.0 * c, 40, clock)
    reached = tuner.concurrency
    assert reached > 2
    tuner.on_throttle(429)
    assert _phase(tuner) == "steady"
    assert tuner.tuned_concurrency == reached - 1


def test_a_known_pending_limit_is_where_concurrency_starts_and_its_ceiling() -> None:
    # Throughput would keep rising with concurrency: without the limit the search would climb past it.
    def rate(batch: int, concurrency: int) -> float:
        return batch * concurrency * 10.0

    limits = FrontLimits(max_concurrent_requests_per_instance=3, instance_count=2)  # Azure's rule: 12
    tuner = Tuner(tuner_settings(limits=limits))
    assert tuner.concurrency == 12
    _run(tuner, rate, 400, [0.0])
    assert (tuner.phase, tuner.concurrency, tuner.tuned_concurrency) == ("steady", 12, 12)
    tuner.on_throttle(429)  # it still backs off, and climbs back no further than the limit
    assert tuner.concurrency == 11
    _run(tuner, rate, 5 * RECOVERY_STREAK, [1000.0])
    assert tuner.concurrency == 12
    unlimited = Tuner(tuner_settings())
    _run(unlimited, rate, 2000, [0.0])
    assert unlimited.concurrency == 16  # the same measurements, no limit: the search goes past it, to its own cap


def test_a_manual_concurrency_is_kept_beside_limits() -> None:
    tuner = Tuner(tuner_settings(concurrency=20, limits=FrontLimits()))
    assert tuner.concurrency == 20


def test_a_pending_limit_below_one_is_refused() -> None:
    class Broken:
        pending_limit = 0

    with pytest.raises(ConfigurationError, match="pending limit must be a whole number of at least 1, not 0"):
        tuner_settings(limits=Broken())
