"""mapInArrow or mapInPandas for score_spark's partitions: measured, side by side, on the same session and rows.

Prints rows/s (median of the rounds, the two alternating so that drift on a shared machine hits both) of:

1. the transport alone: an identity function over the rows (no HTTP), written to Spark's ``noop`` sink;
2. the whole scoring path: :class:`~bankmarketing_client.spark.partition.PartitionScorer` as ``score_spark`` runs it
   (``mapInArrow``), and the same scorer behind ``mapInPandas`` (each pandas frame turned into Arrow for the
   engine, and back), against a local endpoint on loopback.

    python bench/bench_spark_partition.py                 # 100,000 rows, 3 rounds
    python bench/bench_spark_partition.py --rows 20000 --rounds 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from bankmarketing_client.data import read_frame, resolve_train_path
from bankmarketing_client.local import LocalEndpoint
from bankmarketing_client.spark import score_spark

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession


def _session() -> SparkSession:
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (
        SparkSession.builder.master("local[2]")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def _rows(session: SparkSession, rows: int) -> DataFrame:
    train = read_frame(resolve_train_path()).drop(columns="y")
    frame = train.iloc[[i % len(train) for i in range(rows)]].reset_index(drop=True)
    frame.insert(0, "id", [f"C{n:07d}" for n in range(rows)])
    return session.createDataFrame(frame).repartition(4).cache()


def _timed(run: Callable[[], None], rows: int) -> float:
    started = time.perf_counter()
    run()
    return rows / (time.perf_counter() - started)


def _arrow_identity(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield from batches


def _pandas_identity(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    yield from frames


def _pandas_twin(df: DataFrame, scored: DataFrame, endpoint: LocalEndpoint) -> DataFrame:
    """``scored`` (score_spark's mapInArrow over ``df``) again, its PartitionScorer behind mapInPandas instead: the
    same settings, the scorer fed Arrow made from each pandas frame and its Arrow answers turned back into pandas."""
    import pyarrow as pa
    from pyspark.sql import functions as F

    from bankmarketing_client.auth import Secret
    from bankmarketing_client.spark.credentials import ExecutorCredentials
    from bankmarketing_client.spark.partition import PartitionScorer

    context = df.sparkSession.sparkContext
    credentials = ExecutorCredentials.seal(context, Secret(endpoint.primary_key), None, None)
    scorer = PartitionScorer(endpoint.scoring_uri, "inputs", credentials, True, ("id",), per_task=2)
    source = df.select([F.col(f"`{name}`").alias(f"_c{i}") for i, name in enumerate(scorer.columns)])

    def through_pandas(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        batches = (pa.RecordBatch.from_pandas(frame, preserve_index=False) for frame in frames)
        for batch in scorer(batches):
            yield batch.to_pandas()

    return source.mapInPandas(through_pandas, scored.schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    session = _session()
    df = _rows(session, args.rows)
    df.count()  # cached before timing
    plain = df.toDF(*[f"_c{i}" for i in range(len(df.columns))])  # mapInX cannot resolve dotted names
    figures: dict[str, list[float]] = {}

    def noop(frame: DataFrame) -> Callable[[], None]:
        return lambda: frame.write.format("noop").mode("overwrite").save()

    with LocalEndpoint(contract="inputs") as endpoint:
        arrow = score_spark(df, scoring_uri=endpoint.scoring_uri, api_key=endpoint.primary_key, limits=endpoint.limits)
        pandas_scored = _pandas_twin(df, arrow, endpoint)
        runs = {
            "transport, mapInArrow (identity)": noop(plain.mapInArrow(_arrow_identity, plain.schema)),
            "transport, mapInPandas (identity)": noop(plain.mapInPandas(_pandas_identity, plain.schema)),
            "scoring, mapInArrow (score_spark)": noop(arrow),
            "scoring, mapInPandas (same scorer)": noop(pandas_scored),
        }
        for _ in range(args.rounds):
            for name, run in runs.items():
                figures.setdefault(name, []).append(_timed(run, args.rows))
    print(f"{args.rows:,} rows, local[2], 4 partitions, median of {args.rounds} rounds")
    for name, rates in figures.items():
        print(
            f"  {name:<38} {statistics.median(rates):>10,.0f} rows/s   (rounds: {', '.join(f'{r:,.0f}' for r in rates)})"
        )
    session.stop()


if __name__ == "__main__":
    main()
