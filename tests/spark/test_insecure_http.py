"""score_spark holds keys and tokens to the client's rule: plain http only to loopback, unless the caller opts out.

Refused on the driver when score_spark is called, before any job is planned (without the rule the DataFrame was
built, and every executor's task sent the key in clear at the first action). The executors' clients get the same
choice, so the opt-out reaches them and its absence is enforced there too. ``scoring.invalid`` never resolves: a
run that was not refused would fail at the action, not here. The CLI's refusals, with the proof that nothing was
looked up or connected to, are in tests/client/test_insecure_http.py.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from bankmarketing_client.auth import AccessToken
from bankmarketing_client.errors import ConfigurationError
from bankmarketing_client.spark import score_spark
from bankmarketing_client.spark.credentials import ExecutorCredentials
from bankmarketing_client.spark.partition import PartitionScorer

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession

TARGET = "http://scoring.invalid/score"


def _token() -> AccessToken:
    return AccessToken("tok", 4102444800.0)


@pytest.mark.parametrize("credential", [{"api_key": "k3y"}, {"token_provider": _token}])
def test_a_key_or_token_for_plain_http_is_refused_on_the_driver(
    spark: SparkSession, input_frame: pd.DataFrame, credential: dict[str, object]
) -> None:
    df = spark.createDataFrame(input_frame.head(4))
    jobs_before = len(spark.sparkContext.statusTracker().getJobIdsForGroup())
    with pytest.raises(
        ConfigurationError, match=r"refusing to send a key or token over plain http to scoring\.invalid"
    ):
        score_spark(df, scoring_uri=TARGET, contract="inputs", **credential)  # type: ignore[arg-type]
    assert len(spark.sparkContext.statusTracker().getJobIdsForGroup()) == jobs_before

    opted_out = {"allow_insecure_http": True, **credential}
    scored = score_spark(df, scoring_uri=TARGET, contract="inputs", **opted_out)  # type: ignore[arg-type]
    assert "prediction" in scored.columns  # lazily built: nothing is sent until an action


def test_the_executors_clients_follow_the_same_rule() -> None:
    def scorer(allow: bool) -> PartitionScorer:
        return PartitionScorer(
            scoring_uri=TARGET,
            contract="inputs",
            credentials=ExecutorCredentials(token_provider=_token),
            proba=False,
            passthrough=(),
            per_task=1,
            allow_insecure_http=allow,
        )

    with pytest.raises(ConfigurationError, match="over plain http"):
        scorer(False)._client()
    client = scorer(True)._client()
    assert client.scoring_uri == TARGET
    asyncio.run(client.aclose())
