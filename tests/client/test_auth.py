"""Key rotation, token refresh and secrecy, against the real local endpoint's front (which checks keys)."""

from __future__ import annotations

import logging
import pickle
import traceback
from typing import Any

import pytest

from bankmarketing_client.auth import AccessToken, KeyAuth, Secret, TokenAuth, build_auth
from bankmarketing_client.client import AsyncScoringClient, ScoringClient
from bankmarketing_client.errors import AuthenticationError, ConfigurationError
from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.retry import RetryPolicy

pytest_plugins = ["scoring_support"]

STALE_KEY = "stale-key-that-was-regenerated-0123456789"


def _stats(endpoint: LocalEndpoint) -> dict[str, int]:
    return endpoint.stats()


def test_secret_never_shows_its_value() -> None:
    secret = Secret("s3cr3t-value")
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", repr([secret])):
        assert "s3cr3t" not in text
    assert secret.reveal() == "s3cr3t-value"
    assert secret.matches("s3cr3t-value")
    assert not secret.matches("s3cr3t-valuf")
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)


@pytest.mark.parametrize("bad", ["", "   ", "two\nlines"])
def test_unusable_keys_are_refused(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="key or token"):
        Secret(bad)


def test_build_auth_refuses_contradictions() -> None:
    with pytest.raises(ConfigurationError, match="either keys or a token provider"):
        build_auth("k", token_provider=lambda: ("t", 0.0))
    with pytest.raises(ConfigurationError, match="secondary key was given without a primary"):
        build_auth(None, "k2")
    assert build_auth(None) is None


@pytest.mark.parametrize("family", ["inputs", "data"])
def test_401_on_the_primary_rotates_to_the_secondary_key(
    request: pytest.FixtureRequest, sample_records: list[dict[str, Any]], family: str
) -> None:
    endpoint: LocalEndpoint = request.getfixturevalue(f"endpoint_{family}")
    before = _stats(endpoint)
    with ScoringClient(endpoint.scoring_uri, STALE_KEY, secondary_key=endpoint.secondary_key) as client:
        first = client.predict(sample_records)
        second = client.predict(sample_records)
        assert "active=secondary" in repr(client)
    after = _stats(endpoint)
    assert [p.label for p in first] == [p.label for p in second] == ["yes", "no"]
    # One refused attempt with the stale key, then the secondary is used straight away.
    assert after.get("401", 0) - before.get("401", 0) == 1
    assert after.get("requests", 0) - before.get("requests", 0) == 3


def test_rotation_back_to_the_primary(endpoint_inputs: LocalEndpoint, sample_records: list[dict[str, Any]]) -> None:
    """After a rotation the client prefers the secondary; when that is regenerated in turn, it goes back."""
    auth = KeyAuth(endpoint_inputs.primary_key, STALE_KEY)
    auth._active = 1  # as if an earlier rotation had moved to the (now stale) secondary
    with ScoringClient(endpoint_inputs.scoring_uri, auth=auth, contract="inputs") as client:
        assert [p.label for p in client.predict(sample_records)] == ["yes", "no"]
    assert auth.active_key_name == "primary"


def test_both_keys_refused_raises_at_once_without_retries(
    endpoint_inputs: LocalEndpoint, sample_records: list[dict[str, Any]]
) -> None:
    before = _stats(endpoint_inputs)
    with (
        ScoringClient(
            endpoint_inputs.scoring_uri,
            STALE_KEY,
            secondary_key=STALE_KEY + "-2",
            contract="inputs",
            retry=RetryPolicy(max_attempts=5),
        ) as client,
        pytest.raises(AuthenticationError, match="refused the key") as caught,
    ):
        client.predict(sample_records)
    after = _stats(endpoint_inputs)
    assert caught.value.status == 401
    assert caught.value.request_id
    assert after.get("requests", 0) - before.get("requests", 0) == 2  # one per key, no retry


def test_token_provider_is_fetched_lazily_reused_and_refreshed_before_expiry(
    endpoint_inputs: LocalEndpoint, sample_records: list[dict[str, Any]]
) -> None:
    now = [1000.0]
    issued: list[float] = []

    def provider() -> AccessToken:
        issued.append(now[0])
        return AccessToken(endpoint_inputs.primary_key, now[0] + 3600)

    auth = TokenAuth(provider, refresh_margin=300, clock=lambda: now[0])
    with ScoringClient(endpoint_inputs.scoring_uri, auth=auth, contract="inputs") as client:
        assert issued == []
        client.predict(sample_records)
        client.predict(sample_records)
        assert issued == [1000.0]
        now[0] = 1000.0 + 3600 - 299  # inside the refresh margin
        client.predict(sample_records)
        assert issued == [1000.0, 4301.0]
    assert endpoint_inputs.primary_key not in repr(auth)


def test_token_refused_is_refreshed_once(endpoint_inputs: LocalEndpoint, sample_records: list[dict[str, Any]]) -> None:
    tokens = iter(["expired-token-xyz", endpoint_inputs.secondary_key])
    before = _stats(endpoint_inputs)
    with ScoringClient(
        endpoint_inputs.scoring_uri,
        token_provider=lambda: (next(tokens), 9e9),
        contract="inputs",
        use_env=False,
    ) as client:
        assert [p.label for p in client.predict(sample_records)] == ["yes", "no"]
    after = _stats(endpoint_inputs)
    assert after.get("401", 0) - before.get("401", 0) == 1


async def _async_predict(endpoint: LocalEndpoint, records: list[dict[str, Any]]) -> list[str]:
    async with AsyncScoringClient(endpoint.scoring_uri, STALE_KEY, secondary_key=endpoint.primary_key) as client:
        return [p.label for p in await client.predict(records)]


def test_async_face_rotates_too(endpoint_data: LocalEndpoint, sample_records: list[dict[str, Any]]) -> None:
    import asyncio

    assert asyncio.run(_async_predict(endpoint_data, sample_records)) == ["yes", "no"]


def test_keys_never_reach_logs_reprs_or_errors(
    endpoint_inputs: LocalEndpoint,
    sample_records: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Debug logging everywhere (httpx and httpcore included), a rotation, a refusal and a traceback."""
    primary, secondary = endpoint_inputs.primary_key, endpoint_inputs.secondary_key
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        with ScoringClient(endpoint_inputs.scoring_uri, STALE_KEY, secondary_key=secondary) as client:
            client.predict(sample_records)
            texts += [repr(client), str(client), repr(client._core.auth), repr(client._http)]
        with (
            ScoringClient(endpoint_inputs.scoring_uri, primary + "x", secondary_key=secondary + "y") as client,
            pytest.raises(AuthenticationError) as caught,
        ):
            client.predict(sample_records)
        texts += [str(caught.value), repr(caught.value), "".join(traceback.format_exception(caught.value))]
        texts.append(repr(client))
    out, err = capsys.readouterr()
    texts += [caplog.text, out, err]
    joined = "\n".join(texts)
    assert "secondary key accepted" in joined  # the capture did see the rotation...
    assert "httpcore.http11" in caplog.text  # ...and the transport's debug lines
    for key in (primary, secondary, STALE_KEY, primary + "x", secondary + "y"):
        assert key not in joined
