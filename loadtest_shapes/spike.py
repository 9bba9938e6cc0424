"""Spike: a steady baseline, a sudden burst, then the baseline again to watch recovery; then stop.

Applied only when named: ``locust -f loadtest,loadtest_shapes/spike.py ...``. Against Azure (or the local
front with its default ``max_pending``) a spike shows the 429 "too many pending requests" answers and
whether latency returns to the baseline afterwards.
"""

from __future__ import annotations

from typing import Any

from locust import LoadTestShape, events
from locust.argument_parser import LocustArgumentParser


def _add_options(parser: LocustArgumentParser) -> None:
    parser.add_argument("--spike-base-users", type=int, default=2, help="Users before and after the spike")
    parser.add_argument("--spike-users", type=int, default=40, help="Users during the spike")
    parser.add_argument("--spike-warmup", type=float, default=30.0, help="Seconds at the baseline before the spike")
    parser.add_argument("--spike-seconds", type=float, default=15.0, help="How long the spike lasts")
    parser.add_argument("--spike-recovery", type=float, default=30.0, help="Seconds at the baseline afterwards")


hook: Any = events.init_command_line_parser
hook.add_listener(_add_options)


class SpikeLoadShape(LoadTestShape):
    """baseline (warmup) -> spike (all at once) -> baseline (recovery) -> stop."""

    def tick(self) -> tuple[int, float] | None:
        options: Any = self.runner.environment.parsed_options if self.runner else None
        base = max(1, int(getattr(options, "spike_base_users", 2)))
        peak = max(base, int(getattr(options, "spike_users", 40)))
        warmup = float(getattr(options, "spike_warmup", 30.0))
        spike = float(getattr(options, "spike_seconds", 15.0))
        recovery = float(getattr(options, "spike_recovery", 30.0))
        shape: Any = self  # get_run_time is untyped in Locust
        elapsed = float(shape.get_run_time())
        if elapsed < warmup:
            return base, float(base)
        if elapsed < warmup + spike:
            return peak, float(peak)  # the whole burst within a second
        if elapsed < warmup + spike + recovery:
            return base, float(peak)  # drop back at once
        return None
