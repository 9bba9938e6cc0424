"""``credential=``: both client faces take an azure-core TokenCredential (``aad_token`` endpoints), as Azure SDK
clients do. A real azure-identity ``ClientSecretCredential`` gets its tokens from the TLS stand-in of Entra ID,
whose ``/aad/score`` checks them (audience ``https://ml.azure.com``) and forwards to a real local endpoint.

It tests the client (``client.py``/``auth.py``) but lives beside the stand-in it needs, with the tests that need the
``azureml-v2`` extra; the truth it compares with is a key client of the same local endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import trustme
from arm_standin import CLIENT_ID, CLIENT_SECRET, TENANT, ArmStandin, make_ca_file
from azure.identity import ClientSecretCredential

from bankmarketing_client.auth import AML_SCOPE
from bankmarketing_client.client import AsyncScoringClient, ScoringClient
from bankmarketing_client.errors import AuthenticationError, ConfigurationError
from bankmarketing_client.local.endpoint import LocalEndpoint

Record = dict[str, Any]


@pytest.fixture
def sample_records(load_sample: Callable[[str], Any]) -> list[Record]:
    """The two records of Azure's own sample request."""
    records: list[Record] = load_sample("data-2021-06-schema-order.json")["data"]
    return records


def container_results(endpoint: LocalEndpoint, records: list[Record]) -> list[str]:
    """What the same endpoint answers a key client (the credential must change nothing but the header)."""
    with ScoringClient(endpoint.scoring_uri, endpoint.primary_key, contract="inputs", use_env=False) as client:
        return [p.label for p in client.predict(records)]


@pytest.fixture
def standin(tmp_path: Path, endpoint_inputs: LocalEndpoint) -> Iterator[ArmStandin]:
    ca = trustme.CA()
    with ArmStandin(ca, make_ca_file(ca, tmp_path)) as running:
        running.state.aad_upstream = (endpoint_inputs.scoring_uri, endpoint_inputs.primary_key)
        yield running


def _credential(standin: ArmStandin, secret: str = CLIENT_SECRET) -> ClientSecretCredential:
    return ClientSecretCredential(
        TENANT,
        CLIENT_ID,
        secret,
        authority=standin.url,
        disable_instance_discovery=True,
        connection_verify=str(standin.ca_path),
    )


def _aad_client(standin: ArmStandin, secret: str = CLIENT_SECRET) -> ScoringClient:
    """A client of the stand-in's aad_token endpoint, with a service principal's credential."""
    return ScoringClient(
        f"{standin.url}/aad/score",
        credential=_credential(standin, secret),
        contract="inputs",
        use_env=False,
        http_client=httpx.Client(verify=str(standin.ca_path)),
    )


def _token_requests(standin: ArmStandin) -> list[dict[str, list[str]]]:
    return [parse_qs(r.body.decode()) for r in standin.requests_to("/oauth2/v2.0/token")]


def test_sync_client_scores_with_a_token_for_azure_mls_scope(
    standin: ArmStandin, endpoint_inputs: LocalEndpoint, sample_records: list[Record]
) -> None:
    with _aad_client(standin) as client:
        answers = [[p.label for p in client.predict(sample_records)] for _ in range(3)]
        shown = repr(client)

    assert answers == [container_results(endpoint_inputs, sample_records)] * 3
    (form,) = _token_requests(standin)  # one token serves all three calls
    assert form["scope"] == [AML_SCOPE]
    assert form["grant_type"] == ["client_credentials"]
    (token,) = standin.tokens_for(AML_SCOPE)
    scored = standin.requests_to("/aad/score")
    assert len(scored) == 3
    assert {r.headers["Authorization"] for r in scored} == {f"Bearer {token}"}
    assert token not in shown
    assert "TokenAuth(token=********" in shown


def test_async_client_takes_the_same_credential(
    standin: ArmStandin, endpoint_inputs: LocalEndpoint, sample_records: list[Record]
) -> None:
    async def run() -> list[Any]:
        async with AsyncScoringClient(
            f"{standin.url}/aad/score",
            credential=_credential(standin),
            contract="inputs",
            use_env=False,
            http_client=httpx.AsyncClient(verify=str(standin.ca_path)),
        ) as client:
            return [p.label for p in await client.predict(sample_records)]

    assert asyncio.run(run()) == container_results(endpoint_inputs, sample_records)
    assert [f["scope"] for f in _token_requests(standin)] == [[AML_SCOPE]]


def test_a_refused_token_is_an_authentication_error_without_the_token(
    standin: ArmStandin, sample_records: list[Record]
) -> None:
    with _aad_client(standin) as client:
        client.predict(sample_records)
        (token,) = standin.tokens_for(AML_SCOPE)
        standin.issued_tokens.clear()  # revoked: the endpoint now refuses it, as Azure does an expired one
        with pytest.raises(AuthenticationError) as caught:
            client.predict(sample_records)
    assert caught.value.status == 401
    assert token not in str(caught.value)
    assert token not in repr(caught.value)
    # The 401 made the client ask the credential again (azure-identity answered from its cache, so the same
    # token was refused once more): two attempts for the refused call, never a loop.
    assert len(standin.requests_to("/aad/score")) == 3


def test_a_credential_that_cannot_get_a_token_fails_before_sending(
    standin: ArmStandin, sample_records: list[Record]
) -> None:
    with (
        _aad_client(standin, secret="not-the-secret-9931") as client,
        pytest.raises(
            AuthenticationError, match=r"could not get a token for https://ml\.azure\.com/\.default: "
        ) as caught,
    ):
        client.predict(sample_records)
    assert "AADSTS7000215" in str(caught.value)  # Entra ID's own reason, passed on
    assert "not-the-secret-9931" not in str(caught.value)
    assert caught.value.__cause__ is None  # azure-identity's exception (and its request) is not chained on
    assert standin.requests_to("/aad/score") == []


def test_a_credential_excludes_keys_and_providers(standin: ArmStandin) -> None:
    credential = _credential(standin)
    for extra in ({"api_key": "k1"}, {"secondary_key": "k2"}, {"token_provider": lambda: ("t", 1.0)}):
        with pytest.raises(ConfigurationError, match="give a credential, keys, a token provider or auth, not several"):
            ScoringClient("http://127.0.0.1:9/score", credential=credential, use_env=False, **extra)
    with pytest.raises(ConfigurationError, match="credential must be an azure-core TokenCredential"):
        ScoringClient("http://127.0.0.1:9/score", credential="a-key", use_env=False)  # type: ignore[arg-type]
