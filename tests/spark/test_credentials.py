"""Keys travel to executors as two XOR shares: neither the pickled task nor the broadcast holds the key."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pyspark import cloudpickle

from bankmarketing_client.auth import Secret, token_file_provider
from bankmarketing_client.errors import ConfigurationError
from bankmarketing_client.local.pytest_plugin import EndpointFactory
from bankmarketing_client.spark import score_spark
from bankmarketing_client.spark.credentials import ExecutorCredentials, SealedSecret
from bankmarketing_client.spark.partition import PartitionScorer

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pandas as pd
    from pyspark.sql import SparkSession

KEY = "k3y-0f-the-d3ployment-" + "x" * 20
SECONDARY = "s3condary-" + "y" * 30


def test_the_pickled_task_holds_no_key_and_says_nothing_in_its_repr(spark: SparkSession) -> None:
    credentials = ExecutorCredentials.seal(spark.sparkContext, Secret(KEY), Secret(SECONDARY), None)
    scorer = PartitionScorer("http://127.0.0.1:1/score", "inputs", credentials, True, ("id",), per_task=2)
    # how pyspark pickles a task's function (its vendored cloudpickle has no type hints)
    pickled: bytes = cloudpickle.dumps(scorer)  # type: ignore[no-untyped-call]
    for key in (KEY, SECONDARY):
        assert key.encode() not in pickled
        assert key not in repr(scorer)
    assert credentials.primary is not None
    shares = credentials.primary._masked.value, credentials.primary._mask
    assert all(KEY.encode() not in share for share in shares)  # each share alone is noise


def test_a_sealed_key_opens_on_the_executors(spark: SparkSession) -> None:
    sealed = SealedSecret.seal(spark.sparkContext, Secret(KEY))

    def digest(rows: Iterable[int]) -> Iterable[str]:
        for _ in rows:
            yield hashlib.sha256(sealed.open().reveal().encode()).hexdigest()

    digests = spark.sparkContext.parallelize(range(4), 2).mapPartitions(digest).collect()
    assert digests == [hashlib.sha256(KEY.encode()).hexdigest()] * 4


def test_no_credentials_open_to_no_keys() -> None:
    assert ExecutorCredentials().client_kwargs() == {"api_key": None, "secondary_key": None, "token_provider": None}


def test_a_token_provider_travels_as_itself_and_its_token_authenticates_the_executors(
    spark: SparkSession,
    bankmarketing_endpoint_factory: EndpointFactory,
    input_frame: pd.DataFrame,
    tmp_path: Path,
) -> None:
    endpoint = bankmarketing_endpoint_factory(contract="inputs", auth_mode="aml_token")
    answer = endpoint.get_token()
    token_file = tmp_path / "token.json"
    token_file.write_text(json.dumps(answer))
    provider = token_file_provider(token_file)  # what the executors read: a path, not the token
    assert answer["accessToken"].encode() not in cloudpickle.dumps(provider)  # type: ignore[no-untyped-call]
    scored = score_spark(
        spark.createDataFrame(input_frame.head(200)), scoring_uri=endpoint.scoring_uri, token_provider=provider
    ).toPandas()
    assert scored["prediction"].isin(["yes", "no"]).all()
    assert len(scored) == 200
    assert endpoint.stats().get("401", 0) == 0


def test_a_token_provider_that_cannot_travel_is_refused_on_the_driver(spark: SparkSession) -> None:
    lock = threading.Lock()  # like a management client's connection pool: no pickled form

    def provider() -> tuple[str, float]:
        with lock:
            return "token", 0.0

    with pytest.raises(ConfigurationError, match="cannot be shipped to Spark's executors"):
        ExecutorCredentials.seal(spark.sparkContext, None, None, provider)
