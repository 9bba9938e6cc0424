"""Batch scoring: ``--batch-size`` records sampled from the dataset (fixed ``--seed``) per request."""

from __future__ import annotations

import itertools

from _common import EndpointUser
from locust import constant, tag, task


class BatchScoringUser(EndpointUser):
    """Cycles through ``--pool-size`` prepared batches, so the generator encodes nothing while running."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self._turn = itertools.count()

    @tag("batch")
    @task
    def score_batch(self) -> None:
        self.score(
            lambda prepared: prepared.batches[next(self._turn) % len(prepared.batches)],
            "/score [batch]",
        )
