"""What routing costs the front: its own CPU per request with one deployment, with two (blue 90 / green 10), and
with two plus a 20 % mirror, measured side by side in one run.

The endpoints (front and containers) run on core 0, wrk on core 1 (``sched_setaffinity``, as ``taskset`` would; the
children inherit it). The rounds alternate between the setups and the medians are compared, since wrk runs of a
few seconds vary by +-15 % here (FIELD-NOTES section 9). Only the front process's CPU is counted (utime + stime
from /proc), divided by the requests wrk completed. Run: ``.venv/bin/python bench/bench_routing.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _wrk import run_wrk

from bankmarketing_client.data import read_frame, resolve_holdout_path
from bankmarketing_client.local import LocalEndpoint
from bankmarketing_client.local.model import sample_records

ENDPOINT_CORE = {0}
LOADGEN_CORE = {1}


def front_cpu_seconds(pid: int) -> float:
    """utime + stime of the front process alone (not its children: it has none)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per setup")
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("needs two cores: the endpoint on core 0, wrk on core 1")

    body = json.dumps(
        {"Inputs": {"data": sample_records(read_frame(resolve_holdout_path(None)), 2)},
         "GlobalParameters": {"method": "predict"}}
    ).encode()  # fmt: skip
    setups = {
        "one deployment": {},
        "two, 90/10": {"deployments": ["blue", "green"], "traffic": {"blue": 90, "green": 10}},
        "two, 90/10 + mirror 20 %": {
            "deployments": ["blue", "green", "shadow"],
            "traffic": {"blue": 90, "green": 10},
            "mirror": {"shadow": 20},
        },
    }
    os.sched_setaffinity(0, ENDPOINT_CORE)  # the endpoints' processes inherit core 0
    endpoints = {name: LocalEndpoint(worker_count=2, **kwargs) for name, kwargs in setups.items()}  # type: ignore[arg-type]
    try:
        for endpoint in endpoints.values():
            endpoint.start()
        os.sched_setaffinity(0, LOADGEN_CORE)  # wrk inherits core 1
        per_request: dict[str, list[float]] = {name: [] for name in setups}
        throughput: dict[str, list[float]] = {name: [] for name in setups}
        for _ in range(args.rounds):
            for name, endpoint in endpoints.items():
                assert endpoint.front is not None
                before = front_cpu_seconds(endpoint.front.pid)
                result = run_wrk(
                    endpoint.scoring_uri, body, connections=args.connections, seconds=args.seconds,
                    key=endpoint.primary_key, threads=1,
                )  # fmt: skip
                spent = front_cpu_seconds(endpoint.front.pid) - before
                if result.failures:
                    print(f"  {name}: {result.failures} failed requests of {result.requests}", file=sys.stderr)
                per_request[name].append(spent / max(result.requests, 1) * 1e6)
                throughput[name].append(result.requests_per_second)
        print(f"front CPU per request (median of {args.rounds} alternating {args.seconds:g} s wrk runs, "
              f"{args.connections} connections, 2-record predict; endpoint on core 0, wrk on core 1)")  # fmt: skip
        baseline = statistics.median(per_request["one deployment"])
        for name in setups:
            cost = statistics.median(per_request[name])
            runs = ", ".join(f"{v:.0f}" for v in per_request[name])
            print(
                f"  {name:<26} {cost:7.0f} us/request  ({runs})  x{cost / baseline:.2f}"
                f"  {statistics.median(throughput[name]):6.1f} req/s"
            )
        for name, endpoint in endpoints.items():
            print(f"  {name}: routed {json.dumps(endpoint.deployment_stats())}")
    finally:
        for endpoint in endpoints.values():
            endpoint.stop()


if __name__ == "__main__":
    main()
