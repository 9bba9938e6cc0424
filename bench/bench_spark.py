"""``score --engine spark`` (local[2]) beside the single-process ``score``, on the same pinned endpoint, in one run.

The endpoint (front and its two model workers: one instance, Azure's pending rule 2 x 2 x 1 = 4) runs on core 0
and each client run on core 1 (``sched_setaffinity``, as ``taskset -c`` would; children inherit it). Both
scorers read the same generated Parquet (the training rows repeated to ``--rows``, with an id column; in a
temporary folder, deleted afterwards) and write Parquet. Printed for each: rows/s of its own summary (Spark's
excludes the JVM's start-up, shown apart), wall time of the whole command, client CPU per row, and peak memory:
the largest sum of RSS over the command's whole process tree (for Spark: the Python driver, the JVM and its
Python workers), sampled every 0.2 s from /proc.

Then, on paper: an endpoint of N instances serves N times the per-instance rows/s (taken as the faster of the two
scorers here, both limited by the one-core endpoint); Spark needs that many rows/s times its marginal CPU per
row (a small run's fixed cost subtracted from the big run's) in executor cores; and the budget rule
(2 x max_concurrent_requests_per_instance x instances) with its split over those cores.

    .venv/bin/python bench/bench_spark.py                 # 1,000,000 rows (a few minutes)
    .venv/bin/python bench/bench_spark.py --rows 100000   # quicker
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bankmarketing_client.data import resolve_train_path
from bankmarketing_client.local import LocalEndpoint
from bankmarketing_client.spark.budget import pending_limit, plan_budget

ENDPOINT_CORE = {0}
CLIENT_CORE = {1}
#: The local endpoint's request settings (its FrontLimits defaults): Azure's rule gives 2 x 2 x 1 = 4 pending.
MAX_CONCURRENT_PER_INSTANCE = 2
SPARK_MASTER = "local[2]"
SMALL_ROWS = 2_000
SAMPLE_SECONDS = 0.2
PAPER_INSTANCES = (10, 100)
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


def write_parquet(train: Path, target: Path, rows: int) -> None:
    """``rows`` rows: the training file's rows repeated (typed as Arrow reads them), with an int64 ``id`` first."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    base = pacsv.read_csv(train)
    with pq.ParquetWriter(target, base.schema.insert(0, pa.field("id", pa.int64()))) as writer:
        for start in range(0, rows, base.num_rows):
            part = base.slice(0, min(base.num_rows, rows - start))
            writer.write_table(part.add_column(0, "id", pa.array(range(start, start + part.num_rows), pa.int64())))


def _stat(pid: int) -> tuple[int, float, int] | None:
    """(parent pid, CPU seconds, RSS bytes) of a live process, or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        rss_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK, rss_pages * PAGE


class TreeSampler(threading.Thread):
    """Peak total RSS and CPU of a process and all its descendants, sampled from /proc until :meth:`stop`.

    A descendant's CPU counts as last sampled (its final < 0.2 s are missed if it exits between samples)."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peak_rss = 0
        self.cpu: dict[int, float] = {}
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.sample()
            self._done.wait(SAMPLE_SECONDS)

    def sample(self) -> None:
        stats = {pid: s for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()) if (s := _stat(pid))}
        tree, frontier = set(), {self.root}
        while frontier:
            tree |= frontier
            frontier = {pid for pid, s in stats.items() if s[0] in frontier} - tree
        members = [pid for pid in tree if pid in stats]
        self.peak_rss = max(self.peak_rss, sum(stats[pid][2] for pid in members))
        for pid in members:
            self.cpu[pid] = stats[pid][1]

    def stop(self) -> None:
        self._done.set()
        self.join()

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu.values())


@dataclass(frozen=True)
class Run:
    rows: int
    rows_per_second: float
    #: The summary's elapsed seconds (for Spark: from the session being up to the output's counters read back).
    elapsed: float
    wall_seconds: float
    cpu_seconds: float
    peak_rss: int
    summary: str

    @property
    def cpu_us_per_row(self) -> float:
        return self.cpu_seconds / self.rows * 1e6


def score(endpoint: LocalEndpoint, source: Path, output: Path, extra: list[str]) -> Run:
    """Run the CLI on the client core; its summary's figures, wall time, CPU and peak memory of its process tree."""
    env = dict(os.environ, BANKMARKETING_SCORING_URI=endpoint.scoring_uri, BANKMARKETING_API_KEY=endpoint.primary_key)
    argv = [sys.executable, "-m", "bankmarketing_client.cli", "score", str(source), "-o", str(output), "--quiet"]
    started = time.monotonic()
    process = subprocess.Popen([*argv, *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = TreeSampler(process.pid)
    sampler.start()
    out, err = process.communicate()
    wall = time.monotonic() - started
    sampler.stop()
    if process.returncode != 0:
        raise SystemExit(f"bench_spark: the scorer failed ({process.returncode}): {err.strip()[-2000:]}")
    rows = int(next(line.split()[1].replace(",", "") for line in out.splitlines() if line.startswith("rows:")))
    elapsed_line = next(line for line in out.splitlines() if line.startswith("elapsed:"))
    elapsed = float(elapsed_line.split()[1])
    rate = float(elapsed_line.split("(")[1].split()[0].replace(",", ""))
    return Run(rows, rate, elapsed, wall, sampler.cpu_seconds, sampler.peak_rss, out.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the generated Parquet")
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("bench_spark: needs two cores (the endpoint on core 0, the client on core 1)")
    budget = pending_limit(MAX_CONCURRENT_PER_INSTANCE, 1)
    spark_args = ["--engine", "spark", "--master", SPARK_MASTER, "--concurrency", str(budget)]
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp:
        folder = Path(tmp)
        big, small = folder / "big.parquet", folder / "small.parquet"
        train = resolve_train_path()
        write_parquet(train, big, args.rows)
        write_parquet(train, small, SMALL_ROWS)
        os.sched_setaffinity(0, ENDPOINT_CORE)  # the endpoints' processes inherit core 0
        # Twin endpoints (same model, workers and limits, both on core 0; only one is busy at a time), so that
        # each engine's counters, its in-flight peak and 429s included, are its own.
        with (
            LocalEndpoint(contract="inputs", data_path=train, worker_count=2) as for_single,
            LocalEndpoint(contract="inputs", data_path=train, worker_count=2) as for_spark,
        ):
            os.sched_setaffinity(0, CLIENT_CORE)  # every scorer run inherits core 1
            print(f"input: {args.rows:,} rows of Parquet ({big.stat().st_size / 1e6:.0f} MB); endpoint on core 0 "
                  f"(2 workers, 429 past {budget} pending), client on core 1")  # fmt: skip
            single = score(for_single, big, folder / "single.parquet", [])
            spark = score(for_spark, big, folder / "spark.parquet", spark_args)
            spark_small = score(for_spark, small, folder / "spark-small.parquet", spark_args)
            counters = {"single-process": for_single.stats(), "spark (both runs)": for_spark.stats()}
    print(f"load average after:  {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"\n--engine spark summary:\n  {spark.summary.replace(chr(10), chr(10) + '  ')}")
    print(f"\n{'scorer':<34}{'rows/s':>10}{'wall s':>9}{'CPU us/row':>12}{'peak RSS MB':>13}")
    for name, run in (("single-process (score)", single), (f"spark {SPARK_MASTER} (--engine spark)", spark)):
        print(
            f"{name:<34}{run.rows_per_second:>10,.0f}{run.wall_seconds:>9.1f}{run.cpu_us_per_row:>12.1f}"
            f"{run.peak_rss / 1e6:>13.0f}"
        )
    print(f"spark / single-process rows/s: {spark.rows_per_second / single.rows_per_second:.1%}")
    fixed = spark_small.cpu_seconds
    marginal = max(spark.cpu_seconds - fixed, 0.0) / (spark.rows - spark_small.rows) * 1e6
    steady = (spark.rows - spark_small.rows) / max(spark.elapsed - spark_small.elapsed, 1e-9)
    print(f"spark fixed cost (a {SMALL_ROWS:,}-row run): {fixed:.1f} CPU s, {spark_small.wall_seconds:.1f} s wall, "
          f"{spark_small.elapsed:.1f} s of job; past it: {steady:,.0f} rows/s, {marginal:.1f} us CPU/row")  # fmt: skip
    for name, stats in counters.items():
        print(f"endpoint counters, {name}: {stats}")

    per_instance = max(single.rows_per_second, spark.rows_per_second)
    print(f"\non paper: one instance (2 workers on one core) serves {per_instance:,.0f} rows/s (the faster scorer "
          f"here); Spark spends {marginal:.1f} us of executor CPU per row")  # fmt: skip
    print(f"{'instances':>10}{'endpoint rows/s':>17}{'executor cores':>16}{'budget':>8}   split over the cores")
    for instances in PAPER_INSTANCES:
        rate = per_instance * instances
        cores = max(1, math.ceil(rate * marginal / 1e6))
        plan = plan_budget(pending_limit(MAX_CONCURRENT_PER_INSTANCE, instances), cores)
        split = f"{plan.per_task} per task x {cores} slots = {plan.peak}"
        print(f"{instances:>10}{rate:>17,.0f}{cores:>16}{plan.budget:>8}   {split}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
