"""A realistic mix: mostly single-record scoring from an app, some small batches, and the odd probe.

Users think between requests (``between(0.5, 2)`` s), so the number of users models clients, not in-flight
requests; use the other scenarios to find the ceiling.
"""

from __future__ import annotations

import itertools

from _common import EndpointUser
from locust import between, tag, task


class RealisticMixUser(EndpointUser):
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self._turn = itertools.count()

    def _next(self, size: int) -> int:
        return next(self._turn) % size

    @tag("mix")
    @task(16)
    def score_one(self) -> None:
        self.score(lambda p: p.singles[self._next(len(p.singles))], "/score [mix: 1 record]")

    @tag("mix")
    @task(3)
    def score_small_batch(self) -> None:
        self.score(lambda p: p.small_batches[self._next(len(p.small_batches))], "/score [mix: 5 records]")

    @tag("mix")
    @task(1)
    def probe_health(self) -> None:
        self.health()

    @tag("mix")
    @task(1)
    def probe_swagger(self) -> None:
        self.swagger()
