"""Discovery through the real azureml-core Webservice code against the recording management stand-in."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from azureml.core import Workspace
from azureml_standin import (
    AAD_TOKEN,
    MMS_PREFIX,
    ManagementStandin,
    aci_payload,
    aks_payload,
)

from bankmarketing_client.auth import TokenAuth
from bankmarketing_client.azureml import (
    ServiceEndpoint,
    ServiceTokenProvider,
    build_async_client,
    build_client,
    discover_service,
)
from bankmarketing_client.errors import AuthenticationError, AzureManagementError
from bankmarketing_client.local.endpoint import LocalEndpoint

pytest_plugins = ["azureml_standin"]

ACI_URI = "http://bank-aci.westeurope.azurecontainer.io/score"
AKS_URI = "http://20.1.2.3:80/api/v1/service/bank-aks/score"


def test_key_service_gives_uris_and_both_keys(standin: ManagementStandin, workspace: Workspace) -> None:
    standin.state.services["bank"] = aci_payload("bank", ACI_URI, auth_enabled=True, app_insights=False)
    standin.state.keys["bank"] = ("primary-secret-1", "secondary-secret-2")

    endpoint = discover_service(workspace, "bank", timeout=10)

    assert endpoint.scoring_uri == ACI_URI
    assert endpoint.swagger_uri == "http://bank-aci.westeurope.azurecontainer.io/swagger.json"
    assert endpoint.auth_mode == "key"
    assert endpoint.compute_type == "ACI"
    assert (endpoint.primary_key, endpoint.secondary_key) == ("primary-secret-1", "secondary-secret-2")
    assert endpoint.token_provider is None
    for text in (repr(endpoint), str(endpoint), endpoint.summary()):
        assert "secret" not in text

    get, listkeys = standin.requests
    assert (get.method, get.path, get.query) == ("GET", f"{MMS_PREFIX}/services/bank", {"expand": ["true"]})
    assert (listkeys.method, listkeys.path) == ("POST", f"{MMS_PREFIX}/services/bank/listkeys")
    for request in standin.requests:
        assert request.headers["authorization"] == f"Bearer {AAD_TOKEN}"


def test_service_without_auth_fetches_no_keys(standin: ManagementStandin, workspace: Workspace) -> None:
    standin.state.services["open"] = aci_payload("open", ACI_URI, auth_enabled=False, app_insights=False)

    endpoint = discover_service(workspace, "open", timeout=10)

    assert endpoint.auth_mode == "none"
    assert endpoint.primary_key is None
    assert standin.requests_to("/listkeys") == []


def test_token_service_provider_asks_azure_and_the_client_caches_until_refresh_after(
    standin: ManagementStandin, workspace: Workspace
) -> None:
    standin.state.services["bank-aks"] = aks_payload("bank-aks", AKS_URI, token_auth=True)
    standin.state.token_refresh_after = 600
    standin.state.token_lifetime = 3600

    endpoint = discover_service(workspace, "bank-aks", timeout=10)
    assert endpoint.auth_mode == "token"
    assert endpoint.swagger_uri == "http://20.1.2.3:80/api/v1/service/bank-aks/swagger.json"
    assert endpoint.primary_key is None
    assert standin.requests_to("/token") == []  # tokens are fetched on first use, not at discovery

    provider = endpoint.token_provider
    assert isinstance(provider, ServiceTokenProvider)
    # One hand-driven clock for both Azure (token times) and the client's token cache.
    now = [time.time()]
    standin.state.clock = lambda: now[0]
    auth = TokenAuth(provider, clock=lambda: now[0])

    token = auth.current()
    assert token.reveal() == "service-token-1"
    assert auth.current() is token  # cached: Azure asked once
    assert len(standin.requests_to("/services/bank-aks/token", "POST")) == 1

    now[0] += 600 - 299  # inside the renewal margin before Azure's refreshAfter (+600), long before expiry
    assert auth.current().reveal() == "service-token-2"
    # After a 401 the client forces a fetch, and the provider must really ask Azure (no stale copy of its own).
    assert auth.current(force=True).reveal() == "service-token-3"
    token_requests = standin.requests_to("/services/bank-aks/token", "POST")
    assert len(token_requests) == 3
    assert all(r.headers["authorization"] == f"Bearer {AAD_TOKEN}" for r in token_requests)
    assert "service-token" not in repr(provider)


def test_unknown_service_is_a_clear_error(standin: ManagementStandin, workspace: Workspace) -> None:
    with pytest.raises(
        AzureManagementError,
        match=r"get service 'nope' failed: WebserviceNotFound: Webservice with name nope not found",
    ):
        discover_service(workspace, "nope", timeout=10)
    assert [r.path for r in standin.requests] == [f"{MMS_PREFIX}/services/nope"]


def test_discovered_key_service_builds_a_working_client(
    standin: ManagementStandin,
    workspace: Workspace,
    endpoint_inputs: LocalEndpoint,
    load_sample: Callable[[str], Any],
) -> None:
    """Discovery output feeds the real client, which scores against the real local endpoint with the keys."""
    standin.state.services["bank"] = aci_payload(
        "bank", endpoint_inputs.scoring_uri, auth_enabled=True, app_insights=False
    )
    standin.state.keys["bank"] = (endpoint_inputs.primary_key, endpoint_inputs.secondary_key)
    records = load_sample("data-2023-07-inputs-only.json")["Inputs"]["data"]

    endpoint = discover_service(workspace, "bank", timeout=10)
    with build_client(endpoint) as client:
        predictions = client.predict(records)

    assert [p.row for p in predictions] == list(range(1, len(records) + 1))
    assert {p.label for p in predictions} <= {"yes", "no"}


async def _score_with_tokens(endpoint: ServiceEndpoint, records: list[dict[str, Any]]) -> list[str]:
    async with build_async_client(endpoint) as client:
        return [p.label for p in await client.predict(records)]


def test_discovered_token_service_builds_a_client_that_sends_the_token(
    standin: ManagementStandin,
    workspace: Workspace,
    endpoint_inputs: LocalEndpoint,
    load_sample: Callable[[str], Any],
) -> None:
    """The async client gets its bearer token from the discovered provider (never from the environment).

    The local front accepts only its own keys, so the stand-in first issues a token it refuses (401), then,
    on a later discovery, issues the key as the token: the call then succeeds. Together these show the
    provider's token is what travels.
    """
    standin.state.services["bank-aks"] = aks_payload("bank-aks", endpoint_inputs.scoring_uri, token_auth=True)
    records = load_sample("data-2023-07-inputs-only.json")["Inputs"]["data"]

    refused = discover_service(workspace, "bank-aks", timeout=10)
    with pytest.raises(AuthenticationError):
        asyncio.run(_score_with_tokens(refused, records))
    assert len(standin.requests_to("/services/bank-aks/token", "POST")) >= 1

    standin.state.token_value = endpoint_inputs.primary_key
    accepted = discover_service(workspace, "bank-aks", timeout=10)
    labels = asyncio.run(_score_with_tokens(accepted, records))
    assert len(labels) == len(records)
    assert set(labels) <= {"yes", "no"}
