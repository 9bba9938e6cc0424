"""Key rotation, token refresh and secrecy, against the real local endpoint's front (which checks keys)."""

from __future__ import annotations

import json
import logging
import pickle
import time
import traceback
from pathlib import Path
from typing import Any

import pytest

from bankmarketing_client.auth import (
    AccessToken,
    KeyAuth,
    Secret,
    TokenAuth,
    access_token,
    build_auth,
    token_file_provider,
)
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


# -- aml_token: tokens that expire, from the local endpoint's own issuer ------------------------------------------


def test_a_get_keys_answer_becomes_an_access_token_in_either_spelling() -> None:
    rest = {"accessToken": "t", "tokenType": "Bearer", "expiryTimeUtc": 200, "refreshAfterTimeUtc": 100}
    sdk = {"access_token": "t", "token_type": "Bearer", "expiry_time_utc": 200, "refresh_after_time_utc": 100}
    assert access_token(rest) == access_token(sdk) == AccessToken("t", 200.0, 100.0)
    assert access_token({"accessToken": "t", "expiryTimeUtc": 200}) == AccessToken("t", 200.0, None)
    with pytest.raises(ConfigurationError, match="no accessToken"):
        access_token({"expiryTimeUtc": 200})
    with pytest.raises(ConfigurationError, match="not times"):
        access_token({"accessToken": "t", "expiryTimeUtc": "soon"})


def test_the_refresh_after_time_is_when_the_token_is_renewed() -> None:
    """Azure says when to renew (refreshAfterTimeUtc); a time already past (a token file not yet rewritten) falls
    back to the margin rule, so the provider is not called on every request."""
    now = [1000.0]
    answers = iter([AccessToken("a", 4600.0, 2800.0), AccessToken("b", 4600.0, 900.0)])
    auth = TokenAuth(lambda: next(answers), refresh_margin=300, clock=lambda: now[0])
    assert auth.current().reveal() == "a"
    assert auth.refresh_at == 2800.0
    now[0] = 2800.0
    assert auth.current().reveal() == "b"
    assert auth.refresh_at == 4600.0 - 300


def test_an_aml_token_that_expires_mid_run_is_renewed_with_no_failed_request(
    token_inputs: LocalEndpoint, sample_records: list[dict[str, Any]]
) -> None:
    """Real tokens of 4 s (renew after 2 s): scoring for longer than one lifetime needs two renewals, and the
    endpoint never refuses a request."""
    fetched: list[dict[str, Any]] = []

    def provider() -> AccessToken:
        fetched.append(token_inputs.get_token(lifetime_s=4))
        return access_token(fetched[-1])

    before = _stats(token_inputs)
    with ScoringClient(token_inputs.scoring_uri, token_provider=provider, contract="inputs", use_env=False) as client:
        answers = 0
        for _ in range(300):  # each token is renewed 1-2 s after it was issued (whole seconds, as Azure's)
            assert [p.label for p in client.predict(sample_records)] == ["yes", "no"]
            answers += 1
            if len(fetched) == 3:
                break
            time.sleep(0.1)
    assert len(fetched) == 3
    after = _stats(token_inputs)
    assert after.get("401", 0) - before.get("401", 0) == 0
    assert after.get("requests", 0) - before.get("requests", 0) == answers
    assert fetched[0]["expiryTimeUtc"] < fetched[2]["expiryTimeUtc"]  # the run outlived its first token


def test_an_expired_token_is_refreshed_once_on_401(
    token_inputs: LocalEndpoint, sample_records: list[dict[str, Any]]
) -> None:
    def expired() -> AccessToken:
        token = access_token(token_inputs.get_token(lifetime_s=0.05))
        time.sleep(0.1)  # so that it has expired when it is sent
        return AccessToken(token.token, 9e9)  # as if the clocks disagreed: only the endpoint knows it expired

    def fresh() -> AccessToken:
        return access_token(token_inputs.get_token())

    answers = iter([expired, fresh])
    before = _stats(token_inputs)
    with ScoringClient(
        token_inputs.scoring_uri, token_provider=lambda: next(answers)(), contract="inputs", use_env=False
    ) as client:
        assert [p.label for p in client.predict(sample_records)] == ["yes", "no"]
        assert [p.label for p in client.predict(sample_records)] == ["yes", "no"]
    after = _stats(token_inputs)
    assert after.get("401", 0) - before.get("401", 0) == 1
    assert after.get("requests", 0) - before.get("requests", 0) == 3


def test_a_refused_new_token_fails_clearly_after_one_refresh_never_looping(
    token_inputs: LocalEndpoint, sample_records: list[dict[str, Any]]
) -> None:
    """A token the endpoint does not accept (another endpoint's, here a key): each call fetches one new token
    after its 401, sends once more, and fails; retries do not multiply that."""
    fetched: list[int] = []

    def foreign() -> AccessToken:
        fetched.append(1)
        return AccessToken(f"not-this-endpoints-token-{len(fetched)}", time.time() + 3600)

    before = _stats(token_inputs)
    with ScoringClient(
        token_inputs.scoring_uri,
        token_provider=foreign,
        contract="inputs",
        retry=RetryPolicy(max_attempts=5),
        use_env=False,
    ) as client:
        for _ in range(2):
            with pytest.raises(AuthenticationError, match="a newly fetched one too") as caught:
                client.predict(sample_records)
            assert caught.value.status == 401
    after = _stats(token_inputs)
    assert len(fetched) == 3  # the first token, then one more per refused call
    assert after.get("401", 0) - before.get("401", 0) == 4  # two per call
    assert "not-this-endpoints-token" not in str(caught.value)


def test_a_token_file_is_read_at_each_refresh(
    token_inputs: LocalEndpoint, sample_records: list[dict[str, Any]], tmp_path: Path
) -> None:
    """The file ``local serve --token-file`` keeps (get_keys' answer as JSON) as the provider: a token of 2 s,
    then the file is renewed beside the run (as ``local serve`` does); after the first token's expiry the client
    has read the new one, and the endpoint refused nothing."""
    path = tmp_path / "token.json"
    path.write_text(json.dumps(token_inputs.get_token(lifetime_s=2)))
    reads: list[int] = []
    from_file = token_file_provider(path)

    def provider() -> AccessToken:
        reads.append(1)
        return from_file()

    before = _stats(token_inputs)
    with ScoringClient(token_inputs.scoring_uri, token_provider=provider, contract="inputs", use_env=False) as client:
        assert [p.label for p in client.predict(sample_records)] == ["yes", "no"]
        path.write_text(json.dumps(token_inputs.get_token()))
        time.sleep(2.1)  # the first token has expired
        assert [p.label for p in client.predict(sample_records)] == ["yes", "no"]
    after = _stats(token_inputs)
    assert len(reads) == 2
    assert after.get("401", 0) - before.get("401", 0) == 0
    for content, reason in (("", "not JSON"), ("[1]", "JSON object"), ('{"expiryTimeUtc": 1}', "no accessToken")):
        path.write_text(content)
        with pytest.raises(ConfigurationError, match=reason) as caught:
            token_file_provider(path)()
        assert str(path) in str(caught.value)
    with pytest.raises(ConfigurationError, match="cannot read the token file"):
        token_file_provider(tmp_path / "missing.json")()


def test_a_hostile_token_file_is_one_clear_error(tmp_path: Path) -> None:
    """A path that names something huge (read only up to the limit) or bytes that are not UTF-8: one
    ConfigurationError naming the file, never a traceback or the file's content."""
    huge = tmp_path / "huge.json"
    with huge.open("wb") as sparse:
        sparse.truncate(1 << 30)  # 1 GiB, sparse: reading it whole would take the memory
    with pytest.raises(ConfigurationError, match="larger than 65536 bytes"):
        token_file_provider(huge)()
    garbled = tmp_path / "garbled.json"
    garbled.write_bytes(b'{"accessToken": "\xff\xfe"}')
    with pytest.raises(ConfigurationError, match="not JSON") as caught:
        token_file_provider(garbled)()
    assert str(garbled) in str(caught.value)
