"""aml_token auth: tokens shaped as Azure's get_keys returns them, signed per run, expiring; key auth
unchanged. The issuer's rules alone first, then a real endpoint in aml_token mode."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bankmarketing_client.local import LocalEndpoint, LocalEndpointError
from bankmarketing_client.local.tokens import TokenIssuer, new_secret

RECORD = {
    "age": 41, "job": "admin.", "marital": "married", "education": "university.degree", "default": "no",
    "housing": "yes", "loan": "no", "contact": "cellular", "month": "may", "day_of_week": "mon", "duration": 180,
    "campaign": 1, "pdays": 999, "previous": 0, "poutcome": "nonexistent", "emp.var.rate": 1.1,
    "cons.price.idx": 93.994, "cons.conf.idx": -36.4, "euribor3m": 4.857, "nr.employed": 5191.0,
}  # fmt: skip
BODY = {"Inputs": {"data": [RECORD]}, "GlobalParameters": {"method": "predict"}}


class FakeClock:
    """The issuer's clock, moved by hand: the only way to check expiry at an exact second without sleeping."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_token_has_azures_shape_and_times() -> None:
    clock = FakeClock()
    token = TokenIssuer(new_secret(), lifetime_s=600, refresh_after_s=420, clock=clock).issue()
    assert set(token) == {"accessToken", "tokenType", "expiryTimeUtc", "refreshAfterTimeUtc"}
    assert token["tokenType"] == "Bearer"
    assert token["expiryTimeUtc"] == int(clock.now) + 600
    assert token["refreshAfterTimeUtc"] == int(clock.now) + 420
    assert TokenIssuer(new_secret(), lifetime_s=600, clock=clock).issue()["refreshAfterTimeUtc"] == int(clock.now) + 300


def test_expired_foreign_and_tampered_tokens_are_refused() -> None:
    clock = FakeClock()
    issuer = TokenIssuer(new_secret(), lifetime_s=60, clock=clock)
    token = issuer.issue()["accessToken"]
    assert issuer.check(token)
    assert not TokenIssuer(new_secret(), clock=clock).check(token)  # another run's secret
    payload, _, signature = token.partition(".")
    flipped = "A" if payload[3] != "A" else "B"
    assert not issuer.check(payload[:3] + flipped + payload[4:] + "." + signature)
    assert not issuer.check(payload + "." + signature[:-2])
    for junk in ("", ".", "abc", "ünï.cödé", token + "x"):
        assert not issuer.check(junk)
    clock.now += 59.9
    assert issuer.check(token)
    clock.now += 0.2
    assert not issuer.check(token)


def test_issuer_refuses_what_cannot_work_and_hides_its_secret() -> None:
    secret = new_secret()
    assert secret not in repr(TokenIssuer(secret))
    with pytest.raises(ValueError, match="lifetime must be positive"):
        TokenIssuer(secret, lifetime_s=0)
    with pytest.raises(ValueError, match="within its lifetime"):
        TokenIssuer(secret, lifetime_s=10, refresh_after_s=11)


# -- a real endpoint ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def token_endpoint() -> Iterator[LocalEndpoint]:
    with LocalEndpoint(auth_mode="aml_token", worker_count=1) as endpoint:
        yield endpoint


def _score(endpoint: LocalEndpoint, credential: str) -> httpx.Response:
    return httpx.post(endpoint.scoring_uri, json=BODY, headers={"Authorization": f"Bearer {credential}"}, timeout=30)


def test_a_fresh_token_scores_and_keys_do_not(token_endpoint: LocalEndpoint) -> None:
    token = token_endpoint.get_token()
    assert token["refreshAfterTimeUtc"] < token["expiryTimeUtc"]
    response = _score(token_endpoint, token["accessToken"])
    assert response.status_code == 200, response.text
    assert response.headers["azureml-model-deployment"] == "blue"
    for key in (token_endpoint.primary_key, token_endpoint.secondary_key):
        refused = _score(token_endpoint, key)
        assert refused.status_code == 401
        assert "valid token" in refused.json()["message"]


def test_expired_foreign_and_tampered_tokens_get_401(token_endpoint: LocalEndpoint) -> None:
    short = token_endpoint.get_token(lifetime_s=1)
    assert _score(token_endpoint, short["accessToken"]).status_code == 200
    while time.time() <= short["expiryTimeUtc"] + 1:  # wait out its life (bounded: at most ~2 s)
        time.sleep(0.1)
    assert _score(token_endpoint, short["accessToken"]).status_code == 401
    foreign = TokenIssuer(new_secret()).issue()["accessToken"]
    assert _score(token_endpoint, foreign).status_code == 401
    good = token_endpoint.get_token()["accessToken"]
    payload, _, signature = good.partition(".")
    assert _score(token_endpoint, payload + "." + signature[::-1]).status_code == 401
    assert _score(token_endpoint, good).status_code == 200


def test_tokens_never_reach_the_logs(token_endpoint: LocalEndpoint) -> None:
    token = token_endpoint.get_token()["accessToken"]
    _score(token_endpoint, token)
    _score(token_endpoint, token + "tampered")
    logs = "".join(path.read_text(errors="replace") for path in Path(token_endpoint.log_dir).glob("*.log"))
    assert token.split(".")[1] not in logs
    assert token_endpoint._tokens.secret not in logs
    assert token_endpoint._tokens.secret not in repr(token_endpoint)


def test_key_endpoints_issue_no_tokens(endpoint_inputs: LocalEndpoint) -> None:
    with pytest.raises(LocalEndpointError, match="key auth"):
        endpoint_inputs.get_token()
    assert _score(endpoint_inputs, endpoint_inputs.primary_key).status_code == 200
