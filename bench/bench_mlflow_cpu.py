"""Container CPU per request, ``mlflow`` family against ``inputs``, for 2-record and 1,000-record bodies.

Both endpoints serve the same trees; the ``mlflow`` one through mlflow's pandas path (inference-schema builds a
frame from the split body, mlflow enforces the signature, the model encodes the frame), the ``inputs`` one through
its lean script (records to the trees' matrix, no pandas). Requests go straight to the container, one at a time,
and the container's CPU (utime + stime of gunicorn and its worker, from /proc) is divided by the request count.
Run: ``.venv/bin/python bench/bench_mlflow_cpu.py`` (the endpoint is pinned to core 0, this process to core 1).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "loadtest"))

from _payloads import sample_records
from bench_endpoint import cpu_seconds

from bankmarketing_client.contract import Contract, encode
from bankmarketing_client.local import LocalEndpoint


def per_request_ms(endpoint: LocalEndpoint, body: bytes, count: int) -> float:
    url = endpoint.container_url + "/score"
    assert endpoint.container is not None
    with httpx.Client(timeout=60) as http:
        for _ in range(3):  # warm-up
            http.post(url, content=body, headers={"Content-Type": "application/json"}).raise_for_status()
        before = cpu_seconds([endpoint.container.pid])
        for _ in range(count):
            http.post(url, content=body, headers={"Content-Type": "application/json"}).raise_for_status()
        return (cpu_seconds([endpoint.container.pid]) - before) / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200, help="per payload size (1000-record: a tenth)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {1})
    pool = sample_records(1000, seed=3)
    results: dict[str, dict[int, float]] = {}
    for family in ("inputs", "mlflow"):
        with LocalEndpoint(contract=family, worker_count=1) as endpoint:
            if hasattr(os, "sched_setaffinity") and endpoint.container is not None:
                os.system(f"taskset -a -p -c 0 {endpoint.container.pid} > /dev/null")  # noqa: S605 - our own pid
            for size in (2, 1000):
                body = encode(Contract(family).build_body(pool[:size]))
                count = args.requests if size == 2 else max(10, args.requests // 10)
                results.setdefault(family, {})[size] = per_request_ms(endpoint, body, count)
    print("container CPU per request (ms), same trees, straight to the container")
    print(f"{'records':>8} {'inputs':>9} {'mlflow':>9} {'ratio':>7}")
    for size in (2, 1000):
        a, b = results["inputs"][size], results["mlflow"][size]
        print(f"{size:>8} {a:>9.2f} {b:>9.2f} {b / a:>6.1f}x")


if __name__ == "__main__":
    main()
