"""Step ramp: ``--step-users`` more users every ``--step-seconds``, ``--steps`` times, then stop.

Applied only when named: ``locust -f loadtest,loadtest_shapes/step.py ...`` (a shape found under ``-f``
overrides ``-u``, ``-r`` and ``-t``, so shapes live outside ``loadtest/``). Reading where latency bends as
users grow finds the endpoint's knee; pair it with ``--slo-p95-ms`` to fail the run past it.
"""

from __future__ import annotations

from typing import Any

from locust import LoadTestShape, events
from locust.argument_parser import LocustArgumentParser


def _add_options(parser: LocustArgumentParser) -> None:
    parser.add_argument("--step-users", type=int, default=10, help="Users added at each step")
    parser.add_argument("--step-seconds", type=float, default=30.0, help="How long each step is held")
    parser.add_argument("--steps", type=int, default=5, help="Number of steps; the run stops after the last")


hook: Any = events.init_command_line_parser
hook.add_listener(_add_options)


class StepLoadShape(LoadTestShape):
    """Users: step_users, 2 x step_users, ... steps x step_users; each level held step_seconds."""

    def tick(self) -> tuple[int, float] | None:
        options: Any = self.runner.environment.parsed_options if self.runner else None
        step_users = max(1, int(getattr(options, "step_users", 10)))
        step_seconds = max(0.1, float(getattr(options, "step_seconds", 30.0)))
        steps = max(1, int(getattr(options, "steps", 5)))
        shape: Any = self  # get_run_time is untyped in Locust
        step = int(shape.get_run_time() // step_seconds)
        if step >= steps:
            return None
        return (step + 1) * step_users, float(step_users)  # reach each level within about a second
