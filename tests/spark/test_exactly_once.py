"""Every input row written exactly once: through the endpoint's faults, and when a task dies mid-partition.

The re-run partition also equals an undisturbed run file for file (same rows, same order), so whichever attempt
Spark's committer keeps, the table is the same; speculative copies themselves need two hosts and are run on a
standalone cluster in ``test_speculation.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.spark import score_spark
from bankmarketing_client.spark.partition import FAULT_PROPERTY
from spark.conftest import ROWS
from spark.spark_support import assert_same_rows, read_written

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession


def test_through_503s_resets_and_429_bursts_every_row_once_within_the_budget(
    spark: SparkSession,
    faulty_spark_endpoint: LocalEndpoint,
    input_dir: Path,
    reference: pd.DataFrame,
    tmp_path: Path,
) -> None:
    endpoint = faulty_spark_endpoint
    before = endpoint.stats()
    scored = score_spark(
        spark.read.parquet(str(input_dir)),
        scoring_uri=endpoint.scoring_uri,
        api_key=endpoint.primary_key,
        limits=endpoint.limits,
    )
    scored.write.parquet(str(tmp_path / "out"))
    got = read_written(tmp_path / "out")
    assert len(got) == ROWS
    assert_same_rows(got, reference)
    after = endpoint.stats()
    injected = {kind: after.get(kind, 0) - before.get(kind, 0) for kind in ("fault_503", "fault_reset", "fault_429")}
    assert all(count > 0 for count in injected.values()), injected
    assert after["in_flight_peak"] <= endpoint.limits.pending_limit, after


def _part_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.parquet"), key=lambda p: p.name.split("-")[1])


def test_a_task_killed_mid_partition_is_rerun_and_each_row_is_written_once(
    spark: SparkSession, spark_endpoint: LocalEndpoint, input_dir: Path, reference: pd.DataFrame, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    files = sorted(str(p) for p in input_dir.glob("*.parquet"))[:4]
    context = spark.sparkContext

    df = score_spark(
        spark.read.parquet(*files), scoring_uri=spark_endpoint.scoring_uri, api_key=spark_endpoint.primary_key
    )
    df.write.parquet(str(tmp_path / "clean"))
    context.setJobGroup("crash-once", "a scoring task crashes on its first attempt")
    context.setLocalProperty(FAULT_PROPERTY, "crash:1")
    try:
        df.write.parquet(str(tmp_path / "crashed"))
    finally:
        context.setLocalProperty(FAULT_PROPERTY, None)  # type: ignore[arg-type]  # None removes the property
        context.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
    tracker = context.statusTracker()
    failed = 0
    for job in tracker.getJobIdsForGroup("crash-once"):
        info = tracker.getJobInfo(job)
        assert info is not None
        for stage in info.stageIds:
            stage_info = tracker.getStageInfo(stage)
            failed += stage_info.numFailedTasks if stage_info is not None else 0
    assert failed == 1  # the seam did kill one attempt, after it had sent output

    got = read_written(tmp_path / "crashed")
    expected = reference[reference["id"].isin(got["id"])]
    assert len(got) == ROWS // 2 == len(expected)
    assert_same_rows(got, expected)
    clean, crashed = _part_files(tmp_path / "clean"), _part_files(tmp_path / "crashed")
    assert len(clean) == len(crashed) == 4
    for first, second in zip(clean, crashed, strict=True):
        assert pq.read_table(first).equals(pq.read_table(second))  # the re-run partition, row for row, in order
