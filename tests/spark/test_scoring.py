"""score_spark against the local endpoint: row for row the single-process scorer's answer, within the budget."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bankmarketing_client.batch import score_frame
from bankmarketing_client.errors import ConfigurationError, DatasetError
from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.spark import score_spark
from spark.conftest import INPUT_FILES, ROWS
from spark.spark_support import assert_same_rows, read_written

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession


def test_100k_rows_written_equal_the_single_process_scorer_within_the_budget(
    spark: SparkSession, spark_endpoint: LocalEndpoint, input_dir: Path, reference: pd.DataFrame, tmp_path: Path
) -> None:
    df = spark.read.parquet(str(input_dir))
    assert df.rdd.getNumPartitions() == INPUT_FILES  # several tasks share the budget
    scored = score_spark(
        df, scoring_uri=spark_endpoint.scoring_uri, api_key=spark_endpoint.primary_key, limits=spark_endpoint.limits
    )
    assert scored.columns == ["id", "prediction", "probability", "error"]
    scored.write.parquet(str(tmp_path / "out"))
    got = read_written(tmp_path / "out")
    assert len(got) == ROWS
    assert_same_rows(got, reference)
    stats = spark_endpoint.stats()
    # Azure's rule for this endpoint: 2 x 2 requests per instance x 1 instance. The endpoint's own count of requests
    # in flight never passed it, and the two tasks did overlap (each may keep 2 in flight).
    assert spark_endpoint.limits.pending_limit == 4
    assert 2 <= stats["in_flight_peak"] <= 4, stats
    assert stats.get("429", 0) == 0, stats


def _with_bad_rows(frame: pd.DataFrame) -> pd.DataFrame:
    bad = frame.head(300).copy()
    bad.loc[2, "job"] = "astronaut"
    bad.loc[9, "age"] = -1
    bad.loc[19, ["job", "marital"]] = ["astronaut", "complicated"]
    bad.loc[150, "month"] = None
    return bad


def test_bad_rows_get_the_scorers_words_and_only_good_rows_are_sent(
    spark: SparkSession, spark_endpoint: LocalEndpoint, input_frame: pd.DataFrame
) -> None:
    frame = _with_bad_rows(input_frame)
    expected = score_frame(frame, scoring_uri=spark_endpoint.scoring_uri, api_key=spark_endpoint.primary_key)
    rows = score_spark(
        spark.createDataFrame(frame).repartition(3),
        scoring_uri=spark_endpoint.scoring_uri,
        api_key=spark_endpoint.primary_key,
        max_in_flight=2,
    ).toPandas()
    assert_same_rows(rows.sort_values("id").reset_index(drop=True), expected)
    errors = rows.set_index("id")["error"]
    assert "'astronaut' is not one of" in errors["C000003"]
    assert errors["C000020"].count("; ") == 1  # both refusals of one row, in one cell
    assert errors.notna().sum() == 4

    before = spark_endpoint.stats()["requests"]
    only_bad = spark.createDataFrame(frame.iloc[[2, 9, 19, 150]])
    refused = score_spark(only_bad, scoring_uri=spark_endpoint.scoring_uri, api_key=spark_endpoint.primary_key)
    result = refused.toPandas()
    assert spark_endpoint.stats()["requests"] == before  # nothing was sent for them
    assert len(result) == 4
    assert result["prediction"].isna().all()
    assert result["error"].notna().all()


def test_keep_columns_carries_every_input_column_in_order(
    spark: SparkSession, spark_endpoint: LocalEndpoint, input_frame: pd.DataFrame
) -> None:
    df = spark.createDataFrame(input_frame.head(50))
    kept = score_spark(
        df, scoring_uri=spark_endpoint.scoring_uri, api_key=spark_endpoint.primary_key, keep_columns=True, proba=False
    )
    assert kept.columns == [*df.columns, "prediction", "error"]
    assert kept.schema["emp.var.rate"].dataType == df.schema["emp.var.rate"].dataType
    rows = kept.toPandas()
    assert rows["age"].tolist() == input_frame.head(50)["age"].tolist()
    assert rows["prediction"].isin(["yes", "no"]).all()


def test_without_an_id_column_only_the_scores_come_out(
    spark: SparkSession, spark_endpoint: LocalEndpoint, input_frame: pd.DataFrame
) -> None:
    df = spark.createDataFrame(input_frame.head(20).drop(columns="id"))
    scored = score_spark(df, scoring_uri=spark_endpoint.scoring_uri, api_key=spark_endpoint.primary_key)
    assert scored.columns == ["prediction", "probability", "error"]
    assert scored.count() == 20


def test_input_mistakes_are_refused_before_a_job_runs(
    spark: SparkSession, spark_endpoint: LocalEndpoint, input_frame: pd.DataFrame
) -> None:
    df = spark.createDataFrame(input_frame.head(5))
    uri, key = spark_endpoint.scoring_uri, spark_endpoint.primary_key
    with pytest.raises(DatasetError, match=r"missing column.*euribor3m"):
        score_spark(df.drop("euribor3m"), scoring_uri=uri, api_key=key)
    with pytest.raises(DatasetError, match="'age' is a feature"):
        score_spark(df, scoring_uri=uri, api_key=key, id_column="age")
    with pytest.raises(DatasetError, match="'nope' is not in the DataFrame"):
        score_spark(df, scoring_uri=uri, api_key=key, id_column="nope")
    with pytest.raises(ConfigurationError, match="max_in_flight"):
        score_spark(df, scoring_uri=uri, api_key=key, max_in_flight=0)
    with pytest.raises(ConfigurationError, match="secondary key was given without a primary"):
        score_spark(df, scoring_uri=uri, secondary_key=key)
    with pytest.raises(ConfigurationError, match="only predicts labels"):
        score_spark(df, scoring_uri=uri, api_key=key, contract="data", proba=True)
    with pytest.raises(ConfigurationError, match="unknown contract"):
        score_spark(df, scoring_uri=uri, api_key=key, contract="soap")


def test_a_discovered_endpoint_brings_uri_keys_deployment_and_budget(
    spark: SparkSession, spark_endpoint: LocalEndpoint, input_frame: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    from bankmarketing_client.azureml.discovery import ServiceEndpoint
    from bankmarketing_client.azureml.v2.discovery import DeploymentInfo, OnlineEndpointInfo

    df = spark.createDataFrame(input_frame.head(100))
    blue = DeploymentInfo("blue", None, 1, 1, 5000, False)  # Azure's rule: 2 x 1 x 1 = 2 pending
    v2 = OnlineEndpointInfo(
        "bank",
        spark_endpoint.scoring_uri,
        None,
        "key",
        {"blue": 100},
        {},
        (blue,),
        deployment="blue",
        primary_key=spark_endpoint.primary_key,
    )
    with caplog.at_level(logging.INFO, logger="bankmarketing_client.spark"):
        scored = score_spark(df, endpoint=v2).toPandas()
    assert "at most 2 requests in flight: 1 per task over 2 slots" in caplog.text
    assert scored["prediction"].isin(["yes", "no"]).all()
    v1 = ServiceEndpoint("bank", spark_endpoint.scoring_uri, None, "key", primary_key=spark_endpoint.primary_key)
    assert score_spark(df, endpoint=v1, max_in_flight=2).count() == 100
    with pytest.raises(ConfigurationError, match="not both"):
        score_spark(df, endpoint=v1, api_key=spark_endpoint.primary_key)


def test_with_more_slots_than_budget_no_more_tasks_than_the_budget_run(
    spark: SparkSession, spark_endpoint: LocalEndpoint, input_dir: Path
) -> None:
    df = spark.read.parquet(str(input_dir))
    assert spark.sparkContext.defaultParallelism == 2
    uri, key = spark_endpoint.scoring_uri, spark_endpoint.primary_key
    assert score_spark(df, scoring_uri=uri, api_key=key, max_in_flight=1).rdd.getNumPartitions() == 1
    assert score_spark(df, scoring_uri=uri, api_key=key, max_in_flight=2).rdd.getNumPartitions() == INPUT_FILES
