"""Workspace configuration and auth construction (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azureml.core.authentication import ServicePrincipalAuthentication

from bankmarketing_client.azureml import WorkspaceRef, make_auth, open_workspace
from bankmarketing_client.errors import ConfigurationError

CONFIG = {"subscription_id": "sub-1", "resource_group": "rg-1", "workspace_name": "ws-1"}


def test_config_json_from_file_or_directory(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    expected = WorkspaceRef("sub-1", "rg-1", "ws-1")
    assert WorkspaceRef.from_config(tmp_path / "config.json") == expected
    assert WorkspaceRef.from_config(tmp_path) == expected
    assert expected.arm_scope == (
        "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.MachineLearningServices/workspaces/ws-1"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "JSON object"),
        (json.dumps({**CONFIG, "resource_group": ""}), "'resource_group' is missing"),
        (json.dumps({"subscription_id": "s", "resource_group": "r"}), "'workspace_name' is missing"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError, match=message):
        WorkspaceRef.from_config(path)


def test_missing_config_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        WorkspaceRef.from_config(tmp_path / "nope.json")


def test_service_principal_reads_its_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET"):
        make_auth("service-principal")
    monkeypatch.setenv("AZURE_TENANT_ID", "tenant")
    monkeypatch.setenv("AZURE_CLIENT_ID", "client")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "s3cret")
    auth = make_auth("service-principal")
    assert isinstance(auth, ServicePrincipalAuthentication)
    assert "s3cret" not in repr(auth)


def test_unverified_workspace_makes_no_call() -> None:
    from azureml.core.authentication import ArmTokenAuthentication

    ws = open_workspace(
        WorkspaceRef("sub-1", "rg-1", "ws-1"), ArmTokenAuthentication("t", cloud="AzureCloud"), verify=False
    )
    assert (ws.subscription_id, ws.resource_group, ws.name) == ("sub-1", "rg-1", "ws-1")
