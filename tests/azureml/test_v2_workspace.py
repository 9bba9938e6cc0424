"""The MLClient factory: real azure-ai-ml and azure-identity against the TLS stand-in of ARM and Entra ID."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from arm_standin import (
    AML_SCOPE,
    CLIENT_ID,
    CLIENT_SECRET,
    RESOURCE_GROUP,
    SUBSCRIPTION,
    TENANT,
    WORKSPACE,
    WORKSPACE_SCOPE,
    ArmStandin,
    online_endpoint,
)
from azure.ai.ml import MLClient
from azure.core.exceptions import ClientAuthenticationError

from bankmarketing_client.azureml.v2.workspace import CustomCloud, make_credential, open_ml_client
from bankmarketing_client.azureml.workspace import WorkspaceRef
from bankmarketing_client.errors import ConfigurationError

pytest_plugins = ["arm_standin"]


def test_client_from_config_json_reaches_arm_with_a_service_principal_token(
    arm_standin: ArmStandin, standin_credential: object, standin_cloud: CustomCloud, tmp_path: Path
) -> None:
    config = {"subscription_id": SUBSCRIPTION, "resource_group": RESOURCE_GROUP, "workspace_name": WORKSPACE}
    (tmp_path / "config.json").write_text(json.dumps(config))
    arm_standin.state.endpoints["bank"] = online_endpoint(
        "bank", "https://bank.westeurope.inference.ml.azure.com/score"
    )
    client = open_ml_client(
        WorkspaceRef.from_config(tmp_path),
        standin_credential,  # type: ignore[arg-type]
        cloud=standin_cloud,
        connection_verify=str(arm_standin.ca_path),
    )

    assert client.online_endpoints.get("bank").scoring_uri == "https://bank.westeurope.inference.ml.azure.com/score"

    discovery, token, get = arm_standin.requests[:3]  # then azure-ai-ml lists the deployments
    assert discovery.path == f"/{TENANT}/v2.0/.well-known/openid-configuration"
    form = token.body.decode()
    assert token.path == f"/{TENANT}/oauth2/v2.0/token"
    assert f"client_id={CLIENT_ID}" in form
    # ARM's audience is the cloud's resource manager: the stand-in's own address.
    assert arm_standin.tokens_for(f"{arm_standin.url}/.default") != []
    assert arm_standin.tokens_for(AML_SCOPE) == []
    assert (get.method, get.path, get.api_version) == (
        "GET",
        f"{WORKSPACE_SCOPE}/onlineEndpoints/bank",
        "2022-02-01-preview",
    )
    assert get.headers["Authorization"] == "Bearer " + arm_standin.tokens_for(f"{arm_standin.url}/.default")[0]


def test_a_refused_secret_fails_the_call_and_is_not_repeated(
    arm_standin: ArmStandin, ml_client: MLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "wrong-secret-4411")
    credential = make_credential(
        "service-principal",
        authority=arm_standin.url,
        connection_verify=str(arm_standin.ca_path),
        disable_instance_discovery=True,
    )
    client = open_ml_client(
        WorkspaceRef(SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE),
        credential,
        cloud=CustomCloud(arm_standin.url, arm_standin.url),
        connection_verify=str(arm_standin.ca_path),
    )
    with pytest.raises(ClientAuthenticationError) as caught:
        client.online_endpoints.get("bank")
    assert "AADSTS7000215" in str(caught.value)
    assert "wrong-secret-4411" not in str(caught.value)
    assert CLIENT_SECRET not in str(caught.value)
    assert arm_standin.arm_requests() == []  # no token, no ARM call


def test_service_principal_needs_its_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT_ID)
    with pytest.raises(ConfigurationError, match=r"AZURE_TENANT_ID, AZURE_CLIENT_SECRET$"):
        make_credential("service-principal")
    with pytest.raises(ConfigurationError, match=r"needs the environment variables AZURE_CLIENT_SECRET$"):
        make_credential("service-principal", tenant_id=TENANT)
    with pytest.raises(ConfigurationError, match="unknown credential kind 'browser'"):
        make_credential("browser")  # type: ignore[arg-type]


def test_an_unknown_cloud_name_is_a_configuration_error(standin_credential: object) -> None:
    with pytest.raises(ConfigurationError, match="unknown cloud 'Atlantis': use one of AzureCloud, "):
        open_ml_client(
            WorkspaceRef(SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE),
            standin_credential,  # type: ignore[arg-type]
            cloud="Atlantis",
        )


def test_custom_cloud_names_follow_addresses() -> None:
    one = CustomCloud("https://arm.example/", "https://login.example/")
    assert one.name == CustomCloud("https://arm.example/", "https://login.example/").name
    assert one.name != CustomCloud("https://arm2.example/", "https://login.example/").name
    assert one.metadata()["resource_manager"] == "https://arm.example/"


@pytest.mark.parametrize(
    ("cloud", "what"),
    [
        ({"resource_manager": "http://127.0.0.1:9", "active_directory": "https://127.0.0.1:9"}, "Resource Manager"),
        ({"resource_manager": "https://127.0.0.1:9", "active_directory": "http://127.0.0.1:9"}, "authority"),
        ({"resource_manager": "127.0.0.1:9", "active_directory": "https://127.0.0.1:9"}, "Resource Manager"),
    ],
)
def test_a_custom_cloud_is_https_only(cloud: dict[str, str], what: str) -> None:
    """The library's own guard, not only the CLI's: an http Resource Manager would make azure-ai-ml send the token
    in clear (it turns azure-core's https check off for it)."""
    with pytest.raises(ConfigurationError, match=f"the custom cloud's {what} must be an https:// URL"):
        CustomCloud(**cloud)


def test_an_http_authority_is_one_line_not_a_value_error(
    arm_standin: ArmStandin, sp_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigurationError, match=r"^the authority must be an https:// URL \(got a 'http' URL\)"):
        make_credential("service-principal", authority="http://127.0.0.1:9")
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", "http://127.0.0.1:9")
    with pytest.raises(ConfigurationError, match=r"^\$AZURE_AUTHORITY_HOST must be an https:// URL"):
        make_credential("default")
    monkeypatch.delenv("AZURE_AUTHORITY_HOST")
    make_credential("service-principal", authority="login.microsoftonline.us")  # azure-identity's form: https
    make_credential("service-principal", authority=arm_standin.url)
    assert arm_standin.requests == []  # building a credential makes no call
