"""Throughput and latency of the local endpoint, and where a request's CPU goes.

Prints (1) requests/s and p50/p99 for 1-, 2- and 1000-record payloads at several concurrencies, straight to the
container and through the front, with the front's cost as a ratio measured side by side; (2) CPU per request
split into server, input conversion and model, next to the naive pandas + scikit-learn path; (3) the original
``ab`` line next to the ACI figures published for it. Run: ``.venv/bin/python bench/bench_endpoint.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _wrk import require, run_wrk

from bankmarketing_client.data import read_frame, resolve_holdout_path, resolve_train_path
from bankmarketing_client.local import LocalEndpoint
from bankmarketing_client.local import model as m

PUBLISHED_ACI = "5.3 to 8.6 req/s, 116 to 189 ms mean (published ab runs against ACI, FIELD-NOTES 1)"


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the given processes and all their descendants, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in _tree(pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _tree(roots: list[int]) -> set[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, stack = set(roots), list(roots)
    while stack:
        for child in parents.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def per_call_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()
    started = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - started) / repeat * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="wrk duration per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per cell (median kept)")
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    require("wrk")
    require("ab")
    concurrencies = [int(c) for c in args.concurrency.split(",")]

    train_path = resolve_train_path()
    holdout = read_frame(resolve_holdout_path(train_path))
    records = m.sample_records(holdout.sample(1000, random_state=0), 1000)
    payloads = {n: {"Inputs": {"data": records[:n]}, "GlobalParameters": {"method": "predict"}} for n in (1, 2, 1000)}

    # Limits raised so that the front measures its cost, not Azure's admission policy.
    with LocalEndpoint(
        contract="inputs", worker_count=args.workers, max_concurrent_requests_per_instance=64, max_pending=1024,
        request_timeout_ms=60_000,
    ) as ep:  # fmt: skip
        print(
            f"# local endpoint, {args.workers} gunicorn workers, {os.cpu_count()} cores, "
            f"median of {args.rounds} alternating {args.seconds:g} s runs per cell"
        )
        print("\n## 1. Throughput: straight to the container vs through the front (same payload, same concurrency)")
        print(f"{'records':>7} {'conc':>4} | {'direct req/s':>12} {'p50 ms':>7} {'p99 ms':>7} | "
              f"{'front req/s':>11} {'p50 ms':>7} {'p99 ms':>7} | {'front/direct':>12} {'front CPU ms/req':>16} "
              f"{'failures':>8}")  # fmt: skip
        ratios = []
        for n, payload in payloads.items():
            body = json.dumps(payload).encode()
            for conc in concurrencies:
                # Alternate short runs and keep the median of each side: the machine is shared and noisy.
                directs, fronts, front_cpu = [], [], []
                for _ in range(args.rounds):
                    directs.append(run_wrk(ep.container_url + "/score", body, connections=conc, seconds=args.seconds))
                    before = cpu_seconds(ep.pids()[:1])
                    fronts.append(
                        run_wrk(ep.scoring_uri, body, connections=conc, seconds=args.seconds, key=ep.primary_key)
                    )
                    front_cpu.append((cpu_seconds(ep.pids()[:1]) - before) / fronts[-1].requests * 1000)
                direct = sorted(directs, key=lambda r: r.requests_per_second)[len(directs) // 2]
                front = sorted(fronts, key=lambda r: r.requests_per_second)[len(fronts) // 2]
                ratio = front.requests_per_second / direct.requests_per_second
                ratios.append(ratio)
                print(f"{n:>7} {conc:>4} | {direct.requests_per_second:>12.1f} {direct.p50_ms:>7.1f} {direct.p99_ms:>7.1f} | "
                      f"{front.requests_per_second:>11.1f} {front.p50_ms:>7.1f} {front.p99_ms:>7.1f} | "
                      f"{ratio:>12.3f} {sorted(front_cpu)[len(front_cpu) // 2]:>16.2f} "
                      f"{direct.failures + front.failures:>8}")  # fmt: skip
        print(f"front/direct req/s: median {sorted(ratios)[len(ratios) // 2]:.3f}, min {min(ratios):.3f}")

        print("\n## 2. CPU per request (ms), server side")
        model = m.load_model(m.ensure_model_dir(train_path))
        print(f"{'records':>7} | {'total':>7} {'server':>7} {'convert':>7} {'model':>7} | {'naive pandas+sklearn':>20}")
        import pandas as pd

        for n, payload in payloads.items():
            body = json.dumps(payload).encode()
            pids = ep.pids()[1:]  # the container's process tree (gunicorn master + workers); [0] is the front
            before = cpu_seconds(pids)
            result = run_wrk(ep.container_url + "/score", body, connections=2, seconds=args.seconds)
            total = (cpu_seconds(pids) - before) / result.requests * 1000
            recs = records[:n]
            matrix = model.encode_records(recs)
            repeat = max(20, 2000 // n)
            convert = per_call_ms(lambda recs=recs: model.encode_records(recs), repeat)  # type: ignore[misc]
            scoring = per_call_ms(lambda matrix=matrix: model.proba_yes(matrix), repeat)  # type: ignore[misc]
            naive = per_call_ms(
                lambda recs=recs: model.estimator.predict_proba(  # type: ignore[misc]
                    model.encode_frame(pd.DataFrame.from_records(recs))
                ),
                max(10, 200 // n),
            )
            print(
                f"{n:>7} | {total:>7.2f} {total - convert - scoring:>7.2f} {convert:>7.2f} {scoring:>7.2f} | {naive:>20.2f}"
            )

        print("\n## 3. The original benchmark.sh line (ab -n 10, concurrency 1, 2-record data.json) through the front")
        with LocalEndpoint(contract="data") as original:
            data_json = train_path.parent / "azure-samples" / "data-2020-08-udacity-starter.json"
            out = subprocess.run(
                ["ab", "-n", "10", "-p", str(data_json), "-T", "application/json",
                 "-H", f"Authorization: Bearer {original.primary_key}", original.scoring_uri],
                capture_output=True, text=True, check=True, timeout=120,
            ).stdout  # fmt: skip
        rps = re.search(r"Requests per second:\s+([\d.]+)", out).group(1)  # type: ignore[union-attr]
        mean = re.search(r"Time per request:\s+([\d.]+) \[ms\] \(mean\)", out).group(1)  # type: ignore[union-attr]
        failed = re.search(r"Failed requests:\s+(\d+)", out).group(1)  # type: ignore[union-attr]
        print(f"local: {rps} req/s, {mean} ms mean, {failed} failed")
        print(f"ACI:   {PUBLISHED_ACI}")


if __name__ == "__main__":
    main()
