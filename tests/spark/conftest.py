"""Spark fixtures: one local SparkSession for the whole run (a JVM start costs seconds), the spark tests' own
endpoints, and the 100,000-row input with its single-process reference scores.

The session is ``local[2,4]`` (two task slots, four attempts per task, so a crashed task is re-run), bound to
loopback, with two shuffle partitions and no UI (the secrets test runs a Spark application of its own, UI and event
log included, to read everything it writes).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest
from batch.batch_support import FAULTS

from bankmarketing_client.batch import score_frame
from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.local.pytest_plugin import EndpointFactory

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession

#: The issue's figure: rows scored through Spark and through the single-process scorer, compared row for row.
ROWS: Final = 100_000
INPUT_FILES: Final = 8


def pytest_configure(config: pytest.Config) -> None:
    """pyspark 4.3 warns at every pandas conversion that it does not fully support pandas 3; the tests' own
    comparisons check what it converts."""
    config.addinivalue_line("filterwarnings", "ignore:PySpark does not yet fully support pandas:FutureWarning")


@pytest.fixture(scope="session")
def spark_local_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("spark-local")


@pytest.fixture(scope="session")
def spark(spark_local_dir: Path) -> Iterator[SparkSession]:
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable  # the workers run the venv's interpreter
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    session = (
        SparkSession.builder.master("local[2,4]")
        .appName("bankmarketing-client-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.local.dir", str(spark_local_dir))
        .config("spark.sql.files.maxPartitionBytes", "1m")  # each small input file a partition of its own
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def spark_endpoint(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    """An ``inputs`` endpoint used by the spark tests alone, so that its in-flight peak is theirs."""
    return bankmarketing_endpoint_factory(contract="inputs")


@pytest.fixture(scope="session")
def faulty_spark_endpoint(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    """An ``inputs`` endpoint injecting the batch tests' faults (503s, resets, 429 bursts with Retry-After)."""
    return bankmarketing_endpoint_factory(contract="inputs", faults=FAULTS)


@pytest.fixture(scope="session")
def input_frame(train_path: Path) -> pd.DataFrame:
    """100,000 rows cycled from the training file, each with its own ``id`` (``C000001`` ...)."""
    import pandas as pd

    train = pd.read_csv(train_path).drop(columns="y")
    frame = train.iloc[[i % len(train) for i in range(ROWS)]].reset_index(drop=True)
    frame.insert(0, "id", [f"C{n:06d}" for n in range(1, ROWS + 1)])
    return frame


@pytest.fixture(scope="session")
def input_dir(input_frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 100,000 rows as eight Parquet files, so that Spark reads them as eight partitions."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path_factory.mktemp("spark-input")
    size = ROWS // INPUT_FILES
    for index in range(INPUT_FILES):
        part = input_frame.iloc[index * size : (index + 1) * size]
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), folder / f"part-{index}.parquet")
    return folder


@pytest.fixture(scope="session")
def reference(input_frame: pd.DataFrame, spark_endpoint: LocalEndpoint) -> pd.DataFrame:
    """The single-process scorer's answer for the same rows (``score_frame``, within the endpoint's 4 pending)."""
    scored = score_frame(
        input_frame, scoring_uri=spark_endpoint.scoring_uri, api_key=spark_endpoint.primary_key, concurrency=4
    )
    return scored[["id", "prediction", "probability", "error"]]
