"""The open-loop user against real servers on loopback: schedules held, stalls seen, drops counted, gates honest.

The server is :mod:`toy_server` (a real HTTP server whose timing is known: a stall of exactly 2 s, or a fixed
service time), run as a subprocess; Locust runs as a subprocess too (see test_loadtest_runs). Figures come from
``--latency-report`` (HdrHistogram) and from the server's own count of what arrived. No timed asserts of speed:
rates are checked with statistical bounds wide enough for a loaded 2-core machine.
"""

from __future__ import annotations

import itertools
import json
import statistics
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_loadtest_runs import RUN_TIMEOUT, Run, _env, _locust_cmd, run_locust

from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.local.process import free_port
from bankmarketing_client.local.pytest_plugin import EndpointFactory

TOY = Path(__file__).with_name("toy_server.py")
LOADTEST_DIR = str(Path(__file__).resolve().parents[2] / "loadtest")
sys.path.insert(0, LOADTEST_DIR)
try:
    import _openloop
finally:
    sys.path.remove(LOADTEST_DIR)


class ToyServer:
    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, str(TOY), "--port", str(self.port), *args], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"
        self.url = f"http://127.0.0.1:{self.port}/score"

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=10) as answer:
            result: dict[str, Any] = json.loads(answer.read())
        return result

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def _toy(*args: str) -> Iterator[ToyServer]:
    server = ToyServer(*args)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def toy() -> Iterator[ToyServer]:
    yield from _toy()


@pytest.fixture
def stalling_toy() -> Iterator[ToyServer]:
    yield from _toy("--stall-after", "100", "--stall-s", "2")


@pytest.fixture
def slow_toy() -> Iterator[ToyServer]:
    yield from _toy("--service-ms", "500", "--servers", "1000")


def _report(run: Run) -> dict[str, Any]:
    path = run.folder / "latency.json"
    assert path.is_file(), run.output[-3000:]
    report: dict[str, Any] = json.loads(path.read_text())
    return report


def run_open(tmp_path: Path, train_path: Path, server: ToyServer, *args: str, users: int = 1) -> Run:
    folder = tmp_path / f"out-{len(list(tmp_path.iterdir()))}"
    return run_locust(
        tmp_path, train_path,
        "--host", server.url, "--contract", "inputs", "--latency-report", str(folder / "latency.json"), *args,
        users=users,
    )  # fmt: skip


def test_a_stall_shows_in_the_open_loop_p99_and_not_in_the_closed_loop_one(
    tmp_path: Path, train_path: Path, stalling_toy: ToyServer
) -> None:
    """2 s stall once at 100 requests/s: about 200 arrivals wait for it. The open loop keeps sending (the server
    sees them arrive during the stall) and reports each from its scheduled time; 8 closed-loop users record 8."""
    run = run_open(tmp_path, train_path, stalling_toy, "--arrival-rate", "100", "--max-requests", "500", "OpenLoopUser")
    assert run.code == 0, run.output[-3000:]
    seen = stalling_toy.stats()
    report = _report(run)
    assert (run.requests, run.failures) == (500, 0)  # the request count is the schedule's
    assert seen["requests"] == 500
    assert seen["during_stall"] >= 150  # ~200 arrived while the first one was held: nobody waited to send
    assert report["open_loop"]["scheduled"] == report["open_loop"]["sent"] == 500
    total = report["response_time"]["Aggregated"]
    assert total["count"] == 500
    assert total["p99_ms"] > 1500  # the stall, seen by every request that arrived during it
    assert total["p95_ms"] > 1000  # ~40 % of the requests waited: not a tail of a few
    service = report["service_time"]["Aggregated"]
    assert service["count"] == 500  # beside the response time, not extra requests in Locust's totals
    assert service["p50_ms"] < total["p50_ms"] or service["p99_ms"] < total["p99_ms"]

    closed_server = ToyServer("--stall-after", "100", "--stall-s", "2")
    try:
        closed = run_open(tmp_path, train_path, closed_server, "--max-requests", "3000", "BenchmarkUser", users=8)
    finally:
        closed_server.close()
    assert closed.code == 0, closed.output[-3000:]
    closed_total = _report(closed)["response_time"]["Aggregated"]
    assert closed_total["count"] == 3000
    assert closed_total["max_ms"] > 1500  # the stall happened to the closed loop too ...
    assert closed_total["p99_ms"] < 1000  # ... but only its 8 requests in flight recorded it


@pytest.mark.parametrize(("arrival", "cv_range"), [("constant", (0.0, 0.5)), ("poisson", (0.75, 1.3))])
def test_the_schedule_holds_its_rate_and_its_spread_whatever_the_user_count(
    tmp_path: Path, train_path: Path, toy: ToyServer, arrival: str, cv_range: tuple[float, float]
) -> None:
    run = run_open(
        tmp_path, train_path, toy,
        "--arrival-rate", "200", "--arrival", arrival, "--max-requests", "600", "OpenLoopUser",
        users=4,  # -u does not change the rate: one pacer per process
    )  # fmt: skip
    assert run.code == 0, run.output[-3000:]
    arrivals = toy.stats()["arrivals"]
    assert len(arrivals) == 600
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    rate = len(gaps) / (arrivals[-1] - arrivals[0])
    assert 160 <= rate <= 240  # 200/s; the Poisson sum of 600 gaps has a relative sd of ~4 %
    cv = statistics.pstdev(gaps) / statistics.mean(gaps)
    assert cv_range[0] <= cv <= cv_range[1]  # evenly spaced, or exponential gaps (CV 1)


@pytest.mark.parametrize("arrival", ["constant", "poisson"])
def test_schedules_are_seeded_and_their_shares_sum_to_the_rate(arrival: str) -> None:
    def first(schedule: _openloop.Schedule, n: int) -> list[float]:
        return [t for t, _ in zip(schedule.offsets(), range(n), strict=False)]

    one = _openloop.Schedule(rate=100.0, arrival=arrival, seed=7)
    assert first(one, 50) == first(_openloop.Schedule(rate=100.0, arrival=arrival, seed=7), 50)
    shares = [_openloop.Schedule(rate=100.0, arrival=arrival, seed=7, index=k, workers=2) for k in (0, 1)]
    merged = sorted(t for s in shares for t in first(s, 5000))[:5000]
    assert 95.0 <= 5000 / merged[-1] <= 105.0  # two shares of 50/s make 100/s
    if arrival == "constant":
        assert merged[:4] == [0.0, 0.01, 0.02, 0.03]  # interleaved: exactly the single-process schedule
        assert first(one, 4) == merged[:4]


def test_the_rate_splits_exactly_over_two_workers(tmp_path: Path, train_path: Path, toy: ToyServer) -> None:
    port = str(free_port())
    folder = tmp_path / "distributed"
    env = _env(train_path)
    master = subprocess.Popen(
        _locust_cmd(
            "--headless", "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
            "--expect-workers", "2", "-u", "2", "-r", "2", "-t", "60s",
            "--host", toy.url, "--contract", "inputs", "--arrival-rate", "200", "--max-requests", "400",
            "--latency-report", str(folder / "latency.json"),
            "--csv", str(folder / "run"), "--only-summary", "OpenLoopUser",
        ),
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    workers = [
        subprocess.Popen(
            _locust_cmd("--worker", "--master-host", "127.0.0.1", "--master-port", port),
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        output, _ = master.communicate(timeout=RUN_TIMEOUT)
        worker_output = [w.communicate(timeout=30)[0] for w in workers]
    finally:
        for process in (master, *workers):
            if process.poll() is None:
                process.kill()
                process.wait()
    run = Run(master.returncode, output, folder)
    assert run.code == 0, output[-3000:] + "".join(worker_output)[-2000:]
    report = _report(run)
    assert report["open_loop"]["sent_by_worker"] == {"0": 200, "1": 200}
    assert any("sends 100 requests/s" in text for text in worker_output)  # each worker's share of 200/s
    assert run.requests == 400
    assert toy.stats()["requests"] == 400
    assert report["response_time"]["Aggregated"]["count"] == 400  # the workers' histograms reached the master


def test_arrivals_beyond_max_outstanding_are_dropped_and_counted(
    tmp_path: Path, train_path: Path, slow_toy: ToyServer
) -> None:
    """Every answer takes 500 ms; at 100/s about 50 are in flight, but the cap is 5: most arrivals are dropped,
    none is sent late, and a failure-ratio gate counts the dropped ones."""
    run = run_open(
        tmp_path, train_path, slow_toy,
        "--arrival-rate", "100", "--max-requests", "200", "--max-outstanding", "5", "--slo-fail-ratio", "0.5",
        "OpenLoopUser",
    )  # fmt: skip
    report = _report(run)
    counts = report["open_loop"]
    assert counts["scheduled"] == 200
    assert counts["sent"] + counts["dropped"] == 200
    assert counts["dropped"] >= 100
    assert run.requests == counts["sent"] == slow_toy.stats()["requests"]
    assert run.code == 3, run.output[-3000:]  # dropped arrivals are failures to the ratio gate
    assert "dropped" in run.output


@pytest.mark.parametrize(
    ("gate", "code", "says"),
    [
        (("--slo-p99-ms", "60000"), 6, "not enough samples"),  # 300 < the 1,000 a p99 needs
        (("--slo-p999-ms", "60000"), 6, "p99.9 needs 10000"),
        (("--slo-p95-ms", "60000"), 0, "SLO p95"),  # 300 >= 200
        (("--slo-p95-ms", "0.001"), 4, "BREACHED"),
    ],
)
def test_a_gate_the_sample_cannot_support_exits_6(
    tmp_path: Path, train_path: Path, toy: ToyServer, gate: tuple[str, str], code: int, says: str
) -> None:
    run = run_open(tmp_path, train_path, toy, "--arrival-rate", "300", "--max-requests", "300", *gate, "OpenLoopUser")
    assert run.code == code, run.output[-3000:]
    assert says in run.output


def test_warmup_leaves_the_first_seconds_out_of_the_gates(tmp_path: Path, train_path: Path, toy: ToyServer) -> None:
    run = run_open(
        tmp_path, train_path, toy, "--arrival-rate", "200", "--max-requests", "400", "--warmup", "1", "OpenLoopUser"
    )
    assert run.code == 0, run.output[-3000:]
    measured = _report(run)["response_time"]["Aggregated"]["count"]
    assert run.requests == 400
    assert 150 <= measured <= 250  # the 200 scheduled in the first second are left out


def test_a_generator_behind_its_schedule_fails_every_gate(tmp_path: Path, train_path: Path, toy: ToyServer) -> None:
    """50,000 requests/s is far beyond one Locust process: sends leave late, and a gate that would pass
    (a failure ratio of 1 tolerates anything) does not."""
    run = run_open(
        tmp_path, train_path, toy,
        "--arrival-rate", "50000", "--max-requests", "4000", "--slo-fail-ratio", "1", "OpenLoopUser",
    )  # fmt: skip
    assert run.code == 7, run.output[-3000:]
    assert "FELL BEHIND" in run.output
    assert _report(run)["open_loop"]["fell_behind"] is True


def test_open_loop_without_a_rate_or_with_a_bad_one_stops_with_one_line(
    tmp_path: Path, train_path: Path, toy: ToyServer
) -> None:
    for args, says in (((), "needs --arrival-rate"), (("--arrival-rate", "-5"), "--arrival-rate must be above 0")):
        run = run_open(tmp_path, train_path, toy, *args, "--max-requests", "5", "OpenLoopUser")
        assert run.code == 2, run.output[-3000:]
        assert says in run.output
        assert "Traceback" not in run.output


@pytest.fixture(scope="module")
def delayed_green(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    """blue and green share the traffic; green adds 20 ms to every scoring request (a per-deployment setting)."""
    return bankmarketing_endpoint_factory(
        contract="inputs",
        deployments=["blue=default", "green=default,added_latency_ms=20"],
        traffic={"blue": 50, "green": 50},
        max_pending=64,
        max_concurrent_requests_per_instance=8,
    )


@pytest.fixture(scope="module")
def identical_sides(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    return bankmarketing_endpoint_factory(
        contract="inputs",
        deployments=["blue=default", "green=default"],
        traffic={"blue": 50, "green": 50},
        max_pending=64,
        max_concurrent_requests_per_instance=8,
    )


def _compare_run(tmp_path: Path, train_path: Path, endpoint: LocalEndpoint) -> dict[str, Any]:
    folder = tmp_path / f"cmp-{len(list(tmp_path.iterdir()))}"
    run = run_locust(
        tmp_path, train_path,
        "--host", endpoint.scoring_uri, "--api-key", endpoint.primary_key, "--per-deployment",
        "--arrival-rate", "60", "--arrival", "poisson", "--max-requests", "600",
        "--latency-report", str(folder / "latency.json"), "OpenLoopUser",
        users=1,
    )  # fmt: skip
    assert run.code == 0, run.output[-3000:]
    assert endpoint.primary_key not in run.output + (folder / "latency.json").read_text()
    report: dict[str, Any] = json.loads((folder / "latency.json").read_text())
    assert {"@blue", "@green"} <= set(report["response_time"])
    comparison: dict[str, Any] = report["comparison"]
    assert comparison["n_a"] + comparison["n_b"] == 600
    assert min(comparison["n_a"], comparison["n_b"]) > 200  # a 50/50 split
    assert "vs blue: median" in run.output
    return comparison


def test_the_comparison_finds_a_20_ms_per_deployment_delay_and_none_between_identical_sides(
    tmp_path: Path, train_path: Path, delayed_green: LocalEndpoint, identical_sides: LocalEndpoint
) -> None:
    slower = _compare_run(tmp_path, train_path, delayed_green)
    assert slower["verdict"] == "green is slower than blue", slower
    low, high = slower["median_difference_ci_ms"]
    assert 5 < low <= high < 60  # ~20 ms, with room for a loaded machine's noise
    same = _compare_run(tmp_path, train_path, identical_sides)
    assert same["verdict"] == "no difference shown", same


def test_every_recorded_count_is_read_back_and_the_late_share_counts_them() -> None:
    histogram = _openloop.new_histogram()
    for i in range(600):
        _openloop.record_ms(histogram, 1.0 + i * 0.065)  # 1 to 40 ms
    for _ in range(7):
        _openloop.record_ms(histogram, 70.0)
    assert sum(count for _, count in _openloop.value_counts(histogram)) == 607
    counts = _openloop.OpenLoopCounts(scheduled=607, sent=607, lag=histogram)
    account = _openloop.GeneratorAccount.of([counts], max_lag_ms=50.0)
    assert account.late_share == pytest.approx(7 / 607)
    assert account.fell_behind  # 1.15 % > 1 %
