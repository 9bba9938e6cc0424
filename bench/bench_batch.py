"""Batch scoring throughput and memory, side by side in one run on the same machine.

Prints records/s of:

1. the original project's pattern: 2 records per request, one request at a time (the typed client);
2. our scorer with its defaults (``bankmarketing-client score``, tuned automatically), on a 1,000,000-row CSV
   made by repeating the training rows in a temporary folder (deleted afterwards, never committed);
3. the endpoint's best: ``wrk`` POSTing pre-built payloads, at the best batch size and connection count found by
   a grid search, measured again right before and right after (2) so that drift on a shared machine hits both;

then the ratios (each scorer run against the mean of the wrk runs just before and after it; medians over the
rounds), the scorer's peak memory (max RSS of the CLI process) on the 1M-row file and its CPU time per row.

On this 2-core machine the scorer's own CPU is taken from the endpoint's workers (wrk needs almost none), so the
ratio here is a lower bound for a real deployment, where the endpoint runs on other machines.

The scorer talks to an endpoint with Azure's default pending limit (429 past 4 pending requests); wrk talks to a
twin endpoint (same model, same workers) whose pending limit is raised, because wrk cannot back off and would
otherwise measure 429s. Both are local, on loopback.

    python bench/bench_batch.py                  # full run (a few minutes)
    python bench/bench_batch.py --rows 200000    # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _wrk import require, run_wrk

from bankmarketing_client.client import ScoringClient
from bankmarketing_client.contract import Contract, encode
from bankmarketing_client.data import FEATURE_COLUMNS, read_frame, resolve_train_path
from bankmarketing_client.errors import BankMarketingError
from bankmarketing_client.features import records_to_wire, validate_records
from bankmarketing_client.local import LocalEndpoint

WRK_BATCHES = (500, 1000, 2000, 4000)
WRK_CONNECTIONS = (2, 3, 4)


def repeat_rows(train: Path, target: Path, rows: int) -> None:
    """A CSV of ``rows`` data rows: the training file's rows repeated, with its header once."""
    lines = train.read_text(encoding="utf-8").splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    with target.open("w", encoding="utf-8") as fh:
        fh.write(header)
        written = 0
        while written < rows:
            part = body[: rows - written]
            fh.writelines(part)
            written += len(part)


def original_pattern(endpoint: LocalEndpoint, records: list[dict[str, object]], seconds: float) -> float:
    """Records/s of 2 records per request, sequential, through the typed client."""
    done = 0
    with ScoringClient(endpoint.scoring_uri, endpoint.primary_key, contract="inputs") as client:
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            offset = done % (len(records) - 2)
            client.predict(records[offset : offset + 2])
            done += 2
        return done / (time.monotonic() - started)


def wrk_rate(endpoint: LocalEndpoint, bodies: dict[int, bytes], batch: int, connections: int, seconds: float) -> float:
    before = endpoint.stats().get("200", 0)
    result = run_wrk(
        endpoint.scoring_uri, bodies[batch], connections=connections, seconds=seconds, key=endpoint.primary_key
    )
    answered = endpoint.stats().get("200", 0) - before
    if answered < result.requests * 0.99:
        raise SystemExit(f"wrk saw errors: {result.requests} requests, {answered} answered 200")
    return result.requests_per_second * batch


def scorer_run(endpoint: LocalEndpoint, source: Path, output: Path) -> tuple[float, float, str]:
    """Run the CLI with defaults; return records/s (from its own summary), peak RSS in MB and the summary."""
    env = dict(os.environ)
    env["BANKMARKETING_SCORING_URI"] = endpoint.scoring_uri
    env["BANKMARKETING_API_KEY"] = endpoint.primary_key
    argv = [sys.executable, "-m", "bankmarketing_client.cli", "score", str(source), "-o", str(output), "--quiet"]
    out_path, err_path = output.with_suffix(".stdout"), output.with_suffix(".stderr")
    with out_path.open("w") as out, err_path.open("w") as err:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)  # reaped here, so that its own peak RSS can be read
    process.returncode = code = os.waitstatus_to_exitcode(status)
    stdout = out_path.read_text()
    if code != 0:
        raise SystemExit(f"the scorer failed ({code}): {err_path.read_text().strip()}")
    rate = next(
        float(line.split("(")[1].split()[0].replace(",", "")) for line in stdout.splitlines() if "rows/s" in line
    )
    peak = usage.ru_maxrss / 1024  # KiB on Linux
    rows = int(next(line.split()[1].replace(",", "") for line in stdout.splitlines() if line.startswith("rows:")))
    cpu_us = (usage.ru_utime + usage.ru_stime) / max(rows, 1) * 1e6
    return rate, peak, stdout + f"cpu:       {cpu_us:.1f} us per row (user + system, start-up included)\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the generated CSV")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per wrk grid point (brackets: twice)")
    parser.add_argument("--rounds", type=int, default=3, help="scorer runs on the big file, each between two wrk runs")
    args = parser.parse_args()
    require("wrk")
    train = resolve_train_path()
    frame = read_frame(train)
    raw = frame[list(FEATURE_COLUMNS)].head(max(WRK_BATCHES)).to_dict(orient="records")
    wire = records_to_wire(validate_records([{str(k): v for k, v in r.items()} for r in raw]))
    contract = Contract("inputs")
    bodies = {b: encode(contract.build_body(wire[:b], method="predict_proba")) for b in WRK_BATCHES}

    with (
        tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp,
        LocalEndpoint(contract="inputs", data_path=train) as azure_like,
        LocalEndpoint(contract="inputs", data_path=train, max_pending=64) as open_twin,
    ):
        big = Path(tmp) / "big.csv"
        repeat_rows(train, big, args.rows)
        print(f"input: {args.rows:,} rows ({big.stat().st_size / 1e6:.0f} MB), endpoint: 2 workers, inputs contract")

        original = original_pattern(azure_like, wire, seconds=5.0)
        print(f"original pattern (2 records/request, sequential): {original:,.0f} records/s")

        grid = {}
        for batch in WRK_BATCHES:
            for connections in WRK_CONNECTIONS:
                grid[batch, connections] = wrk_rate(open_twin, bodies, batch, connections, args.seconds)
                print(
                    f"  wrk batch {batch:>5} x {connections} connections: {grid[batch, connections]:>9,.0f} records/s"
                )
        best_batch, best_connections = max(grid, key=lambda k: grid[k])
        print(f"wrk best setting: batch {best_batch}, {best_connections} connections")

        # Interleaved: wrk, scorer, wrk, scorer, ... so that each scorer run is judged against wrk measured just
        # before and just after it. The first scorer run is the 1M-row file (also the memory figure).
        wrk_runs = [wrk_rate(open_twin, bodies, best_batch, best_connections, args.seconds * 2)]
        runs: list[tuple[float, float, str]] = []
        for _ in range(args.rounds):
            runs.append(scorer_run(azure_like, big, Path(tmp) / "scored.csv"))
            wrk_runs.append(wrk_rate(open_twin, bodies, best_batch, best_connections, args.seconds * 2))
        label = f"{args.rows:,} rows"
        print()
        print(f"{'round':<8}{'input':>16}{'wrk before':>13}{'scorer':>11}{'wrk after':>12}{'scorer/wrk':>12}")
        ratios = []
        for index, (rate, _, _) in enumerate(runs):
            bracket = statistics.mean(wrk_runs[index : index + 2])
            ratios.append(rate / bracket)
            print(
                f"{index + 1:<8}{label:>16}{wrk_runs[index]:>13,.0f}{rate:>11,.0f}{wrk_runs[index + 1]:>12,.0f}"
                f"{ratios[-1]:>12.1%}"
            )
        short_rate, _, _ = scorer_run(azure_like, train, Path(tmp) / "train-scored.csv")
        best = statistics.median(wrk_runs)
        ours = statistics.median(rate for rate, _, _ in runs)
        ratio = statistics.median(ratios)
        summary = runs[0][2]
        peak_mb = max(peak for _, peak, _ in runs)
        print(f"\nscorer summary on {label}:\n  " + summary.strip().replace("\n", "\n  "))
        print()
        print(f"{'pattern (medians over the rounds)':<46}{'records/s':>12}{'vs wrk best':>14}")
        print(f"{'original (2 per request, sequential)':<46}{original:>12,.0f}{original / best:>14.1%}")
        print(f"{'our scorer, defaults':<46}{ours:>12,.0f}{ratio:>14.1%}")
        print(f"{'wrk best (pre-built payloads)':<46}{best:>12,.0f}{1:>14.1%}")
        print(f"{'our scorer on the 32,950-row training file':<46}{short_rate:>12,.0f}{short_rate / best:>14.1%}")
        print(f"speed-up over the original pattern: {ours / original:,.0f}x")
        print(f"peak memory of the scorer on {args.rows:,} rows: {peak_mb:.0f} MB (max RSS over the rounds)")
        print("front counters (scorer's endpoint): " + json.dumps(azure_like.stats()))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BankMarketingError as exc:
        raise SystemExit(f"bench_batch: {exc}") from None
