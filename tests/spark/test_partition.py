"""PartitionScorer on its own: Arrow batches of any size in, the same rows out in order, chunks cut across batches."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from bankmarketing_client.auth import Secret
from bankmarketing_client.data import FEATURE_COLUMNS
from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.spark.credentials import ExecutorCredentials
from bankmarketing_client.spark.partition import PartitionScorer

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession


def test_rows_leave_in_input_order_however_batches_and_chunks_are_cut(
    spark: SparkSession, spark_endpoint: LocalEndpoint, input_frame: pd.DataFrame, reference: pd.DataFrame
) -> None:
    rows = input_frame.head(3291)
    credentials = ExecutorCredentials.seal(spark.sparkContext, Secret(spark_endpoint.primary_key), None, None)
    scorer = PartitionScorer(
        spark_endpoint.scoring_uri, "inputs", credentials, True, ("id",), per_task=2, batch_size=500
    )
    assert scorer.columns == ("id", *FEATURE_COLUMNS)
    table = pa.Table.from_pandas(rows[list(scorer.columns)], preserve_index=False)
    table = table.rename_columns([f"_c{i}" for i in range(table.num_columns)])  # as Spark hands them over
    sizes, batches, start = (1, 777, 2500, 13), [], 0
    for size in sizes:
        batches += table.slice(start, size).to_batches()
        start += size
    out = list(scorer(iter(batches)))  # on the driver: TaskContext is None, so the crash seam stays inert
    assert [b.num_rows for b in out] == [500] * 6 + [291]  # one output batch per request-sized chunk
    scored = pa.Table.from_batches(out).to_pandas()
    assert scored.columns.tolist() == ["id", "prediction", "probability", "error"]
    expected = reference.head(3291).reset_index(drop=True)
    assert scored["id"].tolist() == expected["id"].tolist()
    assert scored["prediction"].tolist() == expected["prediction"].tolist()
    assert scored["probability"].tolist() == expected["probability"].tolist()
    assert scored["error"].isna().all()


def test_an_empty_partition_yields_nothing(spark: SparkSession, spark_endpoint: LocalEndpoint) -> None:
    credentials = ExecutorCredentials.seal(spark.sparkContext, Secret(spark_endpoint.primary_key), None, None)
    before = spark_endpoint.stats()["requests"]
    scorer = PartitionScorer(spark_endpoint.scoring_uri, "inputs", credentials, False, (), per_task=1)
    assert list(scorer(iter([]))) == []
    assert spark_endpoint.stats()["requests"] == before
