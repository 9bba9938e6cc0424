"""The original benchmark: the 2-record data.json posted back to back, as ``ab -n N -p data.json`` did.

``locust -f loadtest --headless -u 1 -r 1 --max-requests 10 --payload data.json --host http://HOST/score
--api-key KEY BenchmarkUser`` is the one-line equivalent of the seed's ``benchmark.sh``.
"""

from __future__ import annotations

from _common import EndpointUser
from locust import constant, tag, task


class BenchmarkUser(EndpointUser):
    """No think time, like ab: each user keeps one request in flight."""

    wait_time = constant(0)

    @tag("benchmark")
    @task
    def score_data_json(self) -> None:
        self.score(lambda prepared: prepared.benchmark, "/score [benchmark]")
