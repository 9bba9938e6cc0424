"""Open-loop arrivals: requests sent on a schedule, whatever the endpoint's answers do.

``locust -f loadtest --headless OpenLoopUser --arrival-rate 200 --arrival poisson -t 60s --slo-p99-ms 250``

A closed loop (every other scenario: each user waits for its answer) slows down with the endpoint, so a stall is
recorded by the few requests in flight, not by every request that arrived during it (coordinated omission).
Here one pacing loop per process sends each request at its scheduled time in a greenlet of its own, without
waiting for earlier answers, and reports to Locust a response time measured from the *scheduled* time (what
wrk2 and MLPerf LoadGen report): Locust's stats, CSV and HTML report and the gates all see the corrected
figure. The service time (answer end minus actual send) is kept beside it, in ``--latency-report``, not as
requests of its own.

* ``--arrival-rate R`` is the whole run's rate, split exactly among the workers (see :mod:`_openloop`); ``-u``
  does not change it: the first user of each process paces, the others idle.
* ``--max-outstanding N``: an arrival finding N requests of this process in flight is dropped and counted
  (never sent late); the HTTP pool holds N connections, so no request waits for one.
* A send that leaves later than ``--max-lag-ms`` after its schedule is late; more than 1 % late means the
  generator fell behind its own schedule: the run says so and exits 7, whatever the other gates say.
* ``--max-requests N`` schedules exactly N arrivals (shared among workers); without it the run lasts ``-t``.
"""

from __future__ import annotations

import time
from typing import Any

import gevent
from _common import STATE, EndpointUser, Prepared, count_done, log
from _openloop import OpenLoopCounts, Schedule, deployment_of, record_ms
from gevent.pool import Group
from locust import constant, tag, task
from locust.contrib.fasthttp import FastHttpSession
from locust.exception import StopUser

NAME = "/score [open]"
#: How long a worker waits for the master's message giving its place among the workers.
SHARE_WAIT_S = 10.0


class OpenLoopUser(EndpointUser):
    """Scheduled sends of the benchmark body (``--payload`` or 2 sampled records), or with ``--open-body batch``
    of ``--batch-size`` records cycling through ``--pool-size`` prepared batches."""

    wait_time = constant(0)
    open_loop = True
    _pacer: OpenLoopUser | None = None

    def on_start(self) -> None:
        self._requests = Group()
        options: Any = self.environment.parsed_options
        if OpenLoopUser._pacer is None or OpenLoopUser._pacer._state is None:
            OpenLoopUser._pacer = self
        if OpenLoopUser._pacer is self:
            # A pool as large as the outstanding cap: a request never queues for a connection inside the client.
            self.client = FastHttpSession(
                base_url=self.host,
                request_event=self.environment.events.request,
                network_timeout=self.network_timeout,
                connection_timeout=self.connection_timeout,
                max_retries=0,
                concurrency=max(1, int(options.max_outstanding)),
                user=self,
            )

    def on_stop(self) -> None:
        if OpenLoopUser._pacer is self:
            OpenLoopUser._pacer = None
            self._requests.kill(block=False)  # a run that ends by its clock leaves the unanswered ones unreported

    @tag("open")
    @task
    def pace(self) -> None:
        if OpenLoopUser._pacer is not self:
            gevent.sleep(1.0)  # extra users hold no load: the rate is --arrival-rate, whatever -u says
            return
        prepared = self._wait_ready()
        options: Any = self.environment.parsed_options
        if options.arrival_rate is None:
            log.error("OpenLoopUser needs --arrival-rate R (requests/s of the whole run)")
            raise StopUser()
        index, workers = STATE.share or (0, 1)
        schedule = Schedule(
            rate=float(options.arrival_rate), arrival=options.arrival, seed=options.seed, index=index, workers=workers
        )
        bodies = prepared.batches if options.open_body == "batch" else [prepared.benchmark]
        counts = STATE.latencies.open_loop = OpenLoopCounts(index=index)
        cap = max(1, int(options.max_outstanding))
        log.info(
            "open loop: worker %d of %d sends %.6g requests/s (%s), at most %d outstanding",
            index + 1, workers, schedule.share, schedule.arrival, cap,
        )  # fmt: skip
        start = time.perf_counter()
        group = self._requests
        for j, offset in enumerate(schedule.offsets()):
            if not STATE.budget.take():
                break
            scheduled = start + offset
            delay = scheduled - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)
            counts.scheduled += 1
            if len(group) >= cap:
                counts.dropped += 1
                count_done()
                continue
            group.spawn(self._send, prepared, bodies[j % len(bodies)], scheduled, counts)
        group.join()
        while True:  # the budget is spent: idle until the run stops
            gevent.sleep(1.0)

    def _wait_ready(self) -> Prepared:
        """The prepared payloads and this process's place among the workers (a worker waits for the master's)."""
        deadline = time.monotonic() + SHARE_WAIT_S
        while STATE.prepared is None or STATE.share is None:
            if time.monotonic() > deadline:
                log.error("open loop: no set-up or worker share arrived within %g s", SHARE_WAIT_S)
                raise StopUser()
            gevent.sleep(0.05)
        return STATE.prepared

    def _send(self, prepared: Prepared, body: Any, scheduled: float, counts: OpenLoopCounts) -> None:
        sent_at = time.perf_counter()
        lag_ms = (sent_at - scheduled) * 1000.0
        record_ms(counts.lag, lag_ms)
        counts.sent += 1

        def correct(response: Any) -> None:
            meta = response.request_meta
            service_ms = float(meta["response_time"])
            meta["response_time"] = service_ms + lag_ms  # answer end minus scheduled time
            meta["context"] = {**(meta.get("context") or {}), "scheduled": scheduled}
            if STATE.latencies.measured(scheduled):
                name = str(meta["name"])
                STATE.latencies.service.record(name, service_ms, deployment_of(name))

        self.post_score(prepared, body, NAME, on_answer=correct)
