"""Picking a deployment (``deployment=``, ``azureml-model-deployment``) and learning which one answered, on both
faces, against a real local endpoint with several deployments; and the client request id's format."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest

from bankmarketing_client.client import (
    CLIENT_REQUEST_ID_RULE,
    DEPLOYMENT_HEADER,
    AsyncScoringClient,
    ScoringClient,
)
from bankmarketing_client.errors import APIError, ConfigurationError, ModelError, UnexpectedResponseError
from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.retry import RetryPolicy

pytest_plugins = ["scoring_support"]

ONE_ATTEMPT = RetryPolicy(max_attempts=1)


def _delta(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]], name: str, key: str) -> int:
    return after[name].get(key, 0) - before[name].get(key, 0)


def test_sync_face_sends_the_deployment_and_every_result_names_it(
    blue_green: LocalEndpoint, sample_records: list[dict[str, Any]]
) -> None:
    """``canary`` takes no traffic: only the header can reach it, so every answer from it proves the header."""
    before = blue_green.deployment_stats()
    with ScoringClient(
        blue_green.scoring_uri, blue_green.primary_key, contract="inputs", deployment="canary", use_env=False
    ) as client:
        assert client.deployment == "canary"
        assert "deployment='canary'" in repr(client)
        results = [client.score(sample_records) for _ in range(6)]
        raw = client.request({"Inputs": {"data": sample_records}, "GlobalParameters": {"method": "predict"}})
    after = blue_green.deployment_stats()
    assert {r.deployment for r in results} == {"canary"}
    assert raw.deployment == "canary"
    assert raw.headers[DEPLOYMENT_HEADER] == "canary"
    assert _delta(before, after, "canary", "by_header") == 7
    assert _delta(before, after, "blue", "requests") == _delta(before, after, "green", "requests") == 0


def test_async_face_sends_the_deployment_and_every_result_names_it(
    blue_green: LocalEndpoint, sample_records: list[dict[str, Any]]
) -> None:
    async def run() -> list[str | None]:
        async with AsyncScoringClient(
            blue_green.scoring_uri, blue_green.primary_key, contract="inputs", deployment="green", use_env=False
        ) as client:
            results = await asyncio.gather(*(client.score(sample_records, proba=True) for _ in range(6)))
            raw = await client.request({"Inputs": {"data": sample_records}})
            return [r.deployment for r in results] + [raw.deployment]

    before = blue_green.deployment_stats()
    served = asyncio.run(run())
    after = blue_green.deployment_stats()
    assert served == ["green"] * 7
    assert _delta(before, after, "green", "200") == 7  # (six at once may meet a 429 first, and retry)
    assert _delta(before, after, "blue", "requests") == 0


def test_without_a_deployment_the_split_decides_and_each_result_says_where_it_went(
    blue_green: LocalEndpoint, sample_records: list[dict[str, Any]]
) -> None:
    before = blue_green.deployment_stats()
    with ScoringClient(blue_green.scoring_uri, blue_green.primary_key, contract="inputs", use_env=False) as client:
        served = Counter(client.score(sample_records).deployment for _ in range(40))
    after = blue_green.deployment_stats()
    # What the results say matches what the front counted, deployment by deployment (the split is 50/50).
    assert served == Counter({name: _delta(before, after, name, "200") for name in ("blue", "green")})
    assert set(served) == {"blue", "green"}


def test_an_error_names_the_deployment_that_gave_it(
    blue_green: LocalEndpoint, sample_records: list[dict[str, Any]]
) -> None:
    """A body the model cannot score fails inside the chosen deployment's container: the error says which."""
    with (
        ScoringClient(
            blue_green.scoring_uri, blue_green.primary_key, deployment="canary", retry=ONE_ATTEMPT, use_env=False
        ) as client,
        pytest.raises(APIError) as caught,
    ):
        client.request({"Inputs": {"data": [{"age": "not a number"}]}})
    assert caught.value.status is not None
    assert caught.value.status >= 400
    assert caught.value.deployment == "canary"
    assert "deployment canary" in str(caught.value)
    assert isinstance(caught.value, (ModelError, UnexpectedResponseError))


def test_an_unknown_deployment_is_azures_404_and_says_so(
    blue_green: LocalEndpoint, sample_records: list[dict[str, Any]]
) -> None:
    with (
        ScoringClient(
            blue_green.scoring_uri, blue_green.primary_key, contract="inputs", deployment="purple", use_env=False
        ) as client,
        pytest.raises(UnexpectedResponseError, match="no deployment named 'purple'") as caught,
    ):
        client.predict(sample_records)
    assert caught.value.status == 404
    assert caught.value.deployment is None  # no deployment answered


def test_an_endpoint_that_names_no_deployment_gives_none(
    endpoint_inputs: LocalEndpoint, sample_records: list[dict[str, Any]]
) -> None:
    """The container itself (behind no front) says nothing about deployments."""
    with ScoringClient(endpoint_inputs.container_url + "/score", contract="inputs", use_env=False) as client:
        assert client.score(sample_records).deployment is None


def test_the_deployment_comes_from_the_environment_and_a_keyword_wins(
    blue_green: LocalEndpoint, sample_records: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BANKMARKETING_SCORING_URI", blue_green.scoring_uri)
    monkeypatch.setenv("BANKMARKETING_API_KEY", blue_green.primary_key)
    monkeypatch.setenv("BANKMARKETING_DEPLOYMENT", "canary")
    with ScoringClient.from_env(contract="inputs") as client:
        assert client.score(sample_records).deployment == "canary"
    with ScoringClient.from_env(contract="inputs", deployment="green") as client:
        assert client.score(sample_records).deployment == "green"
    monkeypatch.setenv("BANKMARKETING_DEPLOYMENT", "two words")
    with pytest.raises(ConfigurationError, match="'two words'"):
        ScoringClient.from_env()


@pytest.mark.parametrize("bad", ["", "1blue", "two words", "blue\r\nX-Injected: 1", "blé", "a" * 33, "-blue"])
def test_a_name_that_cannot_be_a_deployment_is_refused_naming_it(bad: str) -> None:
    for face in (ScoringClient, AsyncScoringClient):
        with pytest.raises(ConfigurationError, match="deployment name") as caught:
            face("http://127.0.0.1:9/score", "key", deployment=bad, use_env=False)
        assert repr(bad) in str(caught.value)


def test_client_request_ids_follow_azures_rule_and_differ_per_call(
    blue_green: LocalEndpoint, sample_records: list[dict[str, Any]]
) -> None:
    """Azure keeps ``x-ms-client-request-id`` only as letters, digits, ``-`` and ``_``, cut to 40 characters:
    ours must pass unchanged, so that it can be quoted to support."""
    with ScoringClient(blue_green.scoring_uri, blue_green.primary_key, contract="inputs", use_env=False) as client:
        ids = [client.score(sample_records).client_request_id for _ in range(5)]
        ids.append(client.request({"Inputs": {"data": sample_records}}).client_request_id)
    assert len(set(ids)) == len(ids)
    for client_request_id in ids:
        assert CLIENT_REQUEST_ID_RULE.fullmatch(client_request_id), client_request_id


def test_a_failure_found_in_a_200_names_the_deployment_too(
    endpoint_data: LocalEndpoint, sample_records: list[dict[str, Any]]
) -> None:
    """The ``data`` family's script answers a value it cannot score with a 200 carrying ``error``: the client
    raises while decoding, after the status check, and still says which deployment answered (the default one)."""
    bad = [{**sample_records[0], "age": "not a number"}]

    async def run() -> None:
        async with AsyncScoringClient(
            endpoint_data.scoring_uri, endpoint_data.primary_key, contract="data", use_env=False
        ) as client:
            await client.score_json(json.dumps(bad).encode(), 1)

    with pytest.raises(ModelError) as caught:
        asyncio.run(run())
    assert caught.value.status == 200
    assert caught.value.deployment == "blue"
    assert "deployment blue" in str(caught.value)
