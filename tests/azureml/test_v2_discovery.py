"""Discovery of a managed online endpoint (SDK v2), then scoring through the discovered client in each auth mode.

Real azure-ai-ml and azure-identity talk to the TLS stand-in of ARM (``arm_standin``), which answers for real local
endpoints (two deployments, ``key`` or ``aml_token``) what ARM answers for a managed online endpoint; the scoring
itself goes to the local endpoint, so every auth mode is proved by a real front accepting or refusing it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from arm_standin import (
    AML_SCOPE,
    ENDPOINT_PATH,
    RESOURCE_GROUP,
    SUBSCRIPTION,
    WORKSPACE,
    WORKSPACE_SCOPE,
    ArmStandin,
    online_deployment,
    online_endpoint,
)
from azure.ai.ml import MLClient
from azure.core.credentials import TokenCredential

from bankmarketing_client.azureml.v2.discovery import (
    DeploymentInfo,
    build_async_client,
    build_client,
    discover_online_endpoint,
)
from bankmarketing_client.azureml.v2.workspace import CustomCloud, open_ml_client
from bankmarketing_client.azureml.workspace import WorkspaceRef
from bankmarketing_client.client import ScoringClient
from bankmarketing_client.errors import AuthenticationError, AzureManagementError, ConfigurationError
from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.local.pytest_plugin import EndpointFactory

pytest_plugins = ["arm_standin"]

ENDPOINTS = f"{WORKSPACE_SCOPE}/onlineEndpoints"
OLD_API, NEW_API = "2022-02-01-preview", "2023-04-01-preview"  # azure-ai-ml 1.35's endpoint and deployment APIs


@pytest.fixture(scope="module")
def key_endpoint(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    """blue 90 % (one instance), green 10 % (two instances), key auth."""
    return bankmarketing_endpoint_factory(
        deployments=["blue", "green,instance_count=2"], traffic={"blue": 90, "green": 10}, worker_count=1
    )


@pytest.fixture(scope="module")
def token_endpoint(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    """aml_token auth; tokens live 3 s (renewed after 1.5 s), so a run of a few seconds outlives several."""
    return bankmarketing_endpoint_factory(auth_mode="aml_token", token_lifetime_s=3, worker_count=1)


@pytest.fixture
def records(load_sample: Callable[[str], Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = load_sample("data-2021-06-schema-order.json")["data"]
    return rows


def _labels(client: Any, records: list[dict[str, Any]]) -> list[str]:
    return [p.label for p in client.predict(records)]


def container_results(endpoint: LocalEndpoint, records: list[dict[str, Any]]) -> list[str]:
    """What blue answers a client given the endpoint's URI and key by hand: what discovery must reproduce."""
    with ScoringClient(endpoint.scoring_uri, endpoint.primary_key, deployment="blue", use_env=False) as client:
        return _labels(client, records)


def test_key_endpoint_gives_uris_split_settings_and_scores(
    arm_standin: ArmStandin, ml_client: MLClient, key_endpoint: LocalEndpoint, records: list[dict[str, Any]]
) -> None:
    arm_standin.serve_local_endpoint("bank", key_endpoint)

    info = discover_online_endpoint(ml_client, "bank", timeout=20)

    assert info.scoring_uri == key_endpoint.scoring_uri
    assert info.openapi_uri == key_endpoint.swagger_uri
    assert info.auth_mode == "key"
    assert dict(info.traffic) == {"blue": 90, "green": 10}
    assert dict(info.mirror_traffic) == {}
    blue, green = info.deployments
    assert blue == DeploymentInfo("blue", "Standard_DS3_v2", 1, 2, 5000, False)
    assert green.instance_count == 2
    for spec in key_endpoint.routing.deployments:  # Azure's 429 rule, as the local front applies it
        assert info.settings_of(spec.name).pending_limit == spec.limits.pending_limit
    assert info.pending_limit == 4  # blue takes 90 % with room for 4; green's 8 would last until 80
    assert info.primary_key == key_endpoint.primary_key
    assert key_endpoint.primary_key not in repr(info) + info.summary()
    assert key_endpoint.secondary_key not in repr(info) + info.summary()

    arm = [(r.method, r.path, r.api_version) for r in arm_standin.arm_requests()]
    assert arm == [
        ("GET", f"{ENDPOINTS}/bank", OLD_API),
        ("GET", f"{ENDPOINTS}/bank/deployments", OLD_API),  # get() fills in deployments without traffic
        ("GET", f"{ENDPOINTS}/bank/deployments", NEW_API),
        ("GET", f"{ENDPOINTS}/bank", OLD_API),  # get_keys() reads the auth mode again
        ("POST", f"{ENDPOINTS}/bank/listKeys", OLD_API),
    ]
    with build_client(info, deployment="blue") as client:
        assert _labels(client, records) == container_results(key_endpoint, records)
        assert client.deployment == "blue"
        assert key_endpoint.primary_key not in repr(client)


def test_key_rotation_and_refused_keys(
    arm_standin: ArmStandin, ml_client: MLClient, key_endpoint: LocalEndpoint, records: list[dict[str, Any]]
) -> None:
    arm_standin.serve_local_endpoint("bank", key_endpoint)
    arm_standin.state.keys["bank"] = ("regenerated-primary-5150", key_endpoint.secondary_key)
    with build_client(discover_online_endpoint(ml_client, "bank", timeout=20)) as client:
        assert len(_labels(client, records)) == 2  # the primary is refused, the secondary serves

    arm_standin.state.keys["bank"] = ("stale-primary-6161", "stale-secondary-7272")
    client = build_client(discover_online_endpoint(ml_client, "bank", timeout=20))
    with client, pytest.raises(AuthenticationError) as caught:
        client.predict(records)
    assert caught.value.status == 401
    assert "stale-primary-6161" not in str(caught.value)
    assert "stale-secondary-7272" not in str(caught.value)


def test_aml_token_is_renewed_through_get_keys_while_a_run_outlives_it(
    arm_standin: ArmStandin, ml_client: MLClient, token_endpoint: LocalEndpoint, records: list[dict[str, Any]]
) -> None:
    arm_standin.serve_local_endpoint("bank", token_endpoint)
    info = discover_online_endpoint(ml_client, "bank", timeout=20)
    assert info.auth_mode == "aml_token"
    assert info.token_provider is not None
    assert arm_standin.requests_to("/bank/token") == []  # fetched on first use, not at discovery

    with build_client(info) as client:
        started = time.monotonic()
        while time.monotonic() - started < 4.5:  # a 3 s token cannot cover this run
            assert len(_labels(client, records)) == 2
            time.sleep(0.25)

    fetched = arm_standin.requests_to("/bank/token", "POST")
    assert len(fetched) >= 2
    assert {r.api_version for r in fetched} == {OLD_API}
    assert {r.path for r in fetched} == {f"{ENDPOINTS}/bank/token"}


def test_aml_token_refused_is_refreshed_once_then_reported(
    arm_standin: ArmStandin, ml_client: MLClient, token_endpoint: LocalEndpoint, records: list[dict[str, Any]]
) -> None:
    arm_standin.serve_local_endpoint("bank", token_endpoint)
    answers: list[dict[str, Any]] = []

    def forged_first() -> dict[str, Any]:
        real = token_endpoint.get_token(lifetime_s=600)
        # A token the endpoint does not accept although it is not due (revoked keys, another endpoint's token).
        answer = {**real, "accessToken": "forged-token-8383"} if not answers else real
        answers.append(answer)
        return answer

    arm_standin.state.tokens["bank"] = forged_first
    with build_client(discover_online_endpoint(ml_client, "bank", timeout=20)) as client:
        assert len(_labels(client, records)) == 2
    assert len(answers) == 2  # the 401 fetched a new token at once, and only one

    arm_standin.state.tokens["bank"] = lambda: {**token_endpoint.get_token(), "accessToken": "forged-token-9494"}
    client = build_client(discover_online_endpoint(ml_client, "bank", timeout=20))
    with client, pytest.raises(AuthenticationError) as caught:
        client.predict(records)
    assert caught.value.status == 401
    assert "forged-token-9494" not in str(caught.value)


def test_aad_token_endpoint_is_called_with_the_workspace_credential(
    arm_standin: ArmStandin,
    ml_client: MLClient,
    standin_credential: TokenCredential,
    key_endpoint: LocalEndpoint,
    records: list[dict[str, Any]],
) -> None:
    arm_standin.state.endpoints["bank-aad"] = online_endpoint(
        "bank-aad", f"{arm_standin.url}/aad/score", auth_mode="aad_token", traffic={"blue": 100}
    )
    arm_standin.state.deployments[("bank-aad", "blue")] = online_deployment("bank-aad", "blue", max_concurrent=3)
    arm_standin.state.aad_upstream = (key_endpoint.deployment_url("blue") + "/score", key_endpoint.primary_key)

    info = discover_online_endpoint(ml_client, "bank-aad", timeout=20)
    assert info.auth_mode == "aad_token"
    assert info.credential is standin_credential
    assert info.pending_limit == 6
    assert arm_standin.requests_to("/listKeys") + arm_standin.requests_to("/bank-aad/token") == []

    async def score_async() -> list[str]:
        http = httpx.AsyncClient(verify=str(arm_standin.ca_path))
        async with build_async_client(info, contract="inputs", http_client=http) as client:
            return [p.label for p in await client.predict(records)]

    import asyncio

    expected = container_results(key_endpoint, records)
    assert asyncio.run(score_async()) == expected
    with build_client(info, contract="inputs", http_client=httpx.Client(verify=str(arm_standin.ca_path))) as client:
        assert _labels(client, records) == expected
        (token,) = arm_standin.tokens_for(AML_SCOPE)  # one Entra ID token, for Azure ML's audience
        arm_standin.issued_tokens.pop(token)  # revoked
        with pytest.raises(AuthenticationError) as caught:
            client.predict(records)
    assert caught.value.status == 401
    assert token not in str(caught.value)


def test_credentials_of_the_wrong_kind_are_one_clear_error(
    arm_standin: ArmStandin,
    ml_client: MLClient,
    standin_credential: TokenCredential,
    key_endpoint: LocalEndpoint,
    token_endpoint: LocalEndpoint,
) -> None:
    arm_standin.serve_local_endpoint("keyed", key_endpoint)
    arm_standin.serve_local_endpoint("tokened", token_endpoint)
    keyed = discover_online_endpoint(ml_client, "keyed", timeout=20)
    tokened = discover_online_endpoint(ml_client, "tokened", timeout=20)

    with pytest.raises(ConfigurationError, match="endpoint 'keyed' uses key auth: give it keys, not a token"):
        build_client(keyed, credential=standin_credential)
    with pytest.raises(ConfigurationError, match="endpoint 'keyed' uses key auth"):
        build_client(keyed, token_provider=lambda: ("t", 1.0))
    with pytest.raises(ConfigurationError, match="endpoint 'tokened' uses aml_token auth: it takes tokens, not keys"):
        build_client(tokened, api_key="a-key-for-the-wrong-endpoint")


def test_a_deployment_the_endpoint_lacks_is_refused_naming_the_others(
    arm_standin: ArmStandin, ml_client: MLClient, key_endpoint: LocalEndpoint
) -> None:
    arm_standin.serve_local_endpoint("bank", key_endpoint)
    with pytest.raises(ConfigurationError, match=r"has no deployment 'purple' \(it has: blue, green\)"):
        discover_online_endpoint(ml_client, "bank", "purple", timeout=20)
    pinned = discover_online_endpoint(ml_client, "bank", "green", timeout=20)
    assert pinned.pending_limit == 8  # green alone: 2 x 2 x 2 instances
    assert build_client(pinned).deployment == "green"


def test_missing_endpoint_is_reported_with_arms_reason(arm_standin: ArmStandin, ml_client: MLClient) -> None:
    with pytest.raises(AzureManagementError, match=r"get online endpoint 'ghost' failed: .*ResourceNotFound"):
        discover_online_endpoint(ml_client, "ghost", timeout=20)


def test_the_deadline_ends_a_call_arm_never_answers(arm_standin: ArmStandin, ml_client: MLClient) -> None:
    arm_standin.silence("GET", ENDPOINT_PATH)
    with pytest.raises(AzureManagementError, match=r"get online endpoint 'bank': no answer from Azure within 0\.5 s"):
        discover_online_endpoint(ml_client, "bank", timeout=0.5)


def test_keys_and_tokens_stay_out_of_debug_logs(
    arm_standin: ArmStandin,
    ml_client: MLClient,
    key_endpoint: LocalEndpoint,
    records: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    arm_standin.serve_local_endpoint("bank", key_endpoint)
    caplog.set_level(logging.DEBUG)
    with build_client(discover_online_endpoint(ml_client, "bank", timeout=20)) as client:
        client.predict(records)
    secrets = [key_endpoint.primary_key, key_endpoint.secondary_key, *arm_standin.issued_tokens]
    assert caplog.records  # azure-core, azure-identity and the client did log
    for secret in secrets:
        assert secret not in caplog.text


def test_mirrored_traffic_is_reported_and_left_out_of_the_pending_limit(
    arm_standin: ArmStandin, ml_client: MLClient
) -> None:
    arm_standin.state.endpoints["bank"] = online_endpoint(
        "bank", "https://bank.westeurope.inference.ml.azure.com/score", traffic={"blue": 100}, mirror={"shadow": 20}
    )
    arm_standin.state.keys["bank"] = ("primary-0101", "secondary-0202")
    arm_standin.state.deployments[("bank", "blue")] = online_deployment("bank", "blue", max_concurrent=3)
    arm_standin.state.deployments[("bank", "shadow")] = online_deployment("bank", "shadow", app_insights=True)

    info = discover_online_endpoint(ml_client, "bank", timeout=20)

    assert dict(info.traffic) == {"blue": 100}  # azure-ai-ml adds no zero for a mirrored deployment
    assert dict(info.mirror_traffic) == {"shadow": 20}
    assert info.pending_limit == 6  # blue's own: 2 x 3 x 1; the shadow's copies are dropped, never 429ed
    summary = info.summary()
    assert "mirror:       shadow 20 %" in summary
    assert "  shadow: Standard_DS3_v2 x 1, max_concurrent 1, request_timeout 5000 ms, 429 past 2 pending, " in summary
    assert "App Insights on (0 % live, 20 % mirrored)" in summary


def test_a_workspace_ref_is_opened_with_the_given_credential_and_cloud(
    arm_standin: ArmStandin,
    standin_credential: TokenCredential,
    standin_cloud: CustomCloud,
    key_endpoint: LocalEndpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    arm_standin.serve_local_endpoint("bank", key_endpoint)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(arm_standin.ca_path))  # azure-core's transport honours it
    ref = WorkspaceRef(SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE)

    info = discover_online_endpoint(ref, "bank", credential=standin_credential, cloud=standin_cloud, timeout=20)

    assert info.scoring_uri == key_endpoint.scoring_uri
    with pytest.raises(ConfigurationError, match="cloud applies to a WorkspaceRef"):
        discover_online_endpoint(
            open_ml_client(ref, standin_credential, cloud=standin_cloud), "bank", cloud="AzureCloud"
        )
