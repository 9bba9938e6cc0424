"""The open-loop generator and the capacity search, measured: endpoint on core 0, generator on core 1.

1. The generator's own ceiling per process: ``OpenLoopUser`` at rising ``--arrival-rate`` against a trivial
   keep-alive server (``tests/loadtest/toy_server.py``, no service time), with the rate the server saw and
   whether the generator kept its schedule (send lag), next to ``wrk``'s closed-loop ceiling on the same server.
2. ``bankmarketing-client capacity`` (defaults: p99 <= 250 ms, start 100/s) against the local endpoint
   (``--max-pending 64 --max-concurrent-requests 8``, 2-record body), its capacity as a share of ``wrk -c8``'s
   closed-loop ceiling on the same endpoint and body, and the search's wall time.

Run: ``.venv/bin/python bench/bench_openloop.py [--rates 500,1000,2000,3000] [--seconds 4]`` (needs ``wrk``
and ``$BANKMARKETING_DATA``). Figures from a shared 2-core machine are indicative.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "loadtest"))

import _payloads  # loadtest/: the load test's own body builder
import _wrk  # bench/ holds top-level modules

from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.local.process import free_port

REPO = Path(__file__).resolve().parents[1]
TOY = REPO / "tests" / "loadtest" / "toy_server.py"
ENDPOINT_CORE, GENERATOR_CORE = {0}, {1}


def _toy() -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, str(TOY), "--port", str(port)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    process.stdout.readline()
    return process, f"http://127.0.0.1:{port}/score"


def _toy_rate(url: str) -> tuple[int, float]:
    import urllib.request

    with urllib.request.urlopen(url.replace("/score", "/stats"), timeout=10) as answer:  # noqa: S310  # loopback
        arrivals = json.loads(answer.read())["arrivals"]
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
    return len(arrivals), (len(arrivals) - 1) / span if span else 0.0


def generator_ceiling(rates: list[int], seconds: float) -> None:
    print(f"1. open-loop generator against a trivial server, {seconds:g} s per rate (generator on core 1)")
    print(f"   {'rate':>6} {'seen/s':>8} {'sent':>6} {'late>50ms':>9} {'lag p99':>8}  schedule")
    for rate in rates:
        toy, url = _toy()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                report = Path(tmp) / "latency.json"
                subprocess.run(
                    ["taskset", "-c", "1", sys.executable, "-m", "locust", "-f", str(REPO / "loadtest"),
                     "--headless", "-u", "1", "-r", "1", "-t", "120s", "--only-summary", "--host", url,
                     "--contract", "inputs", "--arrival-rate", str(rate), "--max-requests", str(int(rate * seconds)),
                     "--latency-report", str(report), "OpenLoopUser"],
                    capture_output=True, text=True, timeout=180, cwd=tmp,
                )  # fmt: skip
                data = json.loads(report.read_text())["open_loop"]
            _, seen = _toy_rate(url)
        finally:
            toy.kill()
            toy.wait()
        state = "FELL BEHIND" if data["fell_behind"] else "kept"
        print(
            f"   {rate:>6} {seen:>8.0f} {data['sent']:>6} {data['late_share']:>9.2%} "
            f"{data['send_lag_p99_ms']:>6.1f}ms  {state}"
        )
    toy, url = _toy()
    try:
        os.sched_setaffinity(0, GENERATOR_CORE)
        body = json.dumps({"Inputs": {"data": [{}, {}]}}).encode()
        result = _wrk.run_wrk(url, body, connections=8, seconds=seconds, threads=1)
        print(f"   wrk -c8 -t1 (closed loop) on the same server: {result.requests_per_second:.0f} req/s")
    finally:
        toy.kill()
        toy.wait()


def capacity_share(seconds: float) -> None:
    print("2. capacity search against the local endpoint (endpoint on core 0, generator on core 1)")
    os.sched_setaffinity(0, ENDPOINT_CORE)  # the endpoint's processes inherit core 0
    with LocalEndpoint(contract="inputs", max_pending=64, max_concurrent_requests_per_instance=8) as endpoint:
        os.sched_setaffinity(0, GENERATOR_CORE)
        records = _payloads.sample_records(_payloads.BENCHMARK_RECORDS, seed=42)
        body = _payloads.build_body(records, "inputs", "predict").data
        ceilings = [
            _wrk.run_wrk(endpoint.scoring_uri, body, connections=8, seconds=seconds, key=endpoint.primary_key)
            for _ in range(3)
        ]
        ceiling = sorted(r.requests_per_second for r in ceilings)[1]
        print(f"   wrk -c8 closed-loop ceiling (median of 3): {ceiling:.0f} req/s")
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "BANKMARKETING_API_KEY": endpoint.primary_key}
            began = time.monotonic()
            done = subprocess.run(
                ["taskset", "-c", "1", sys.executable, "-m", "bankmarketing_client.cli", "capacity",
                 "--scoring-uri", endpoint.scoring_uri, "--slo-p99-ms", "250", "-o", tmp],
                capture_output=True, text=True, timeout=600, env=env,
            )  # fmt: skip
            wall = time.monotonic() - began
            print("   " + "\n   ".join(done.stderr.strip().splitlines()))
            data: dict[str, Any] = json.loads((Path(tmp) / "capacity.json").read_text())
            picture = REPO / "docs" / "capacity-local.png"
            picture.write_bytes((Path(tmp) / "capacity.png").read_bytes())
        found = data["capacity_rps"]
        share = f"{found / ceiling:.2f}" if found else "n/a"
        print(f"   capacity at p99 <= 250 ms: {found} req/s = {share} of wrk's ceiling; search wall time {wall:.0f} s")
        print(f"   picture: {picture.relative_to(REPO)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="500,1000,2000,3000")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--skip-ceiling", action="store_true")
    args = parser.parse_args()
    if not args.skip_ceiling:
        generator_ceiling([int(r) for r in args.rates.split(",")], args.seconds)
    capacity_share(args.seconds)


if __name__ == "__main__":
    main()
