"""score_spark on the ``mlflow`` family: the contract detected on the driver (split frames in the endpoint's column
order, labels or probabilities as the deployment's swagger says) travels whole to the tasks, and the rows written
equal the single-process scorer's on the same endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bankmarketing_client.batch import score_frame
from bankmarketing_client.errors import ConfigurationError
from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.spark import score_spark
from spark.spark_support import assert_same_rows, read_written

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession

ROWS = 3000


@pytest.mark.parametrize(("deployment", "columns"), [("blue", ["id", "prediction", "error"]), ("green", None)])
def test_rows_written_equal_the_single_process_scorers_on_each_deployment(
    spark: SparkSession,
    endpoint_mlflow: LocalEndpoint,
    input_frame: pd.DataFrame,
    tmp_path: Path,
    deployment: str,
    columns: list[str] | None,
) -> None:
    frame = input_frame.head(ROWS)
    uri, key = endpoint_mlflow.scoring_uri, endpoint_mlflow.primary_key
    scored = score_spark(
        spark.createDataFrame(frame).repartition(3), scoring_uri=uri, api_key=key, deployment=deployment
    )
    if deployment == "green":  # the probabilities deployment: the probability column comes with it
        columns = ["id", "prediction", "probability", "error"]
    assert scored.columns == columns
    scored.write.parquet(str(tmp_path / "out"))
    got = read_written(tmp_path / "out")
    reference = score_frame(frame, scoring_uri=uri, api_key=key, deployment=deployment)
    if "probability" not in got:
        got["probability"] = reference["probability"] = float("nan")  # compared as absent on both sides
    assert_same_rows(got, reference[["id", "prediction", "probability", "error"]])
    assert set(got["prediction"]) == {"yes", "no"}


def test_probabilities_are_refused_on_the_driver_for_the_labels_deployment(
    spark: SparkSession, endpoint_mlflow: LocalEndpoint, input_frame: pd.DataFrame
) -> None:
    df = spark.createDataFrame(input_frame.head(10))
    uri, key = endpoint_mlflow.scoring_uri, endpoint_mlflow.primary_key
    before = endpoint_mlflow.stats()["requests"]
    with pytest.raises(ConfigurationError, match="only predicts labels"):
        score_spark(df, scoring_uri=uri, api_key=key, proba=True)
    assert endpoint_mlflow.stats()["requests"] == before
