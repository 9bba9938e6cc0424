"""Service logs and Application Insights through azureml-core against the recording stand-in."""

from __future__ import annotations

import json

import pytest
from azureml.core import Workspace
from azureml_standin import AAD_TOKEN, MMS_PREFIX, ManagementStandin, aci_payload

from bankmarketing_client.azureml import enable_app_insights, fetch_logs, get_webservice
from bankmarketing_client.errors import ConfigurationError

pytest_plugins = ["azureml_standin"]

URI = "http://bank.westeurope.azurecontainer.io/score"


def test_logs_returns_the_requested_tail(standin: ManagementStandin, workspace: Workspace) -> None:
    standin.state.services["bank"] = aci_payload("bank", URI, auth_enabled=True, app_insights=False)
    standin.state.logs["bank"] = "\n".join(f"line {i}" for i in range(1, 11))

    logs = fetch_logs(get_webservice(workspace, "bank", timeout=10), tail=3, timeout=10)

    assert logs.splitlines() == ["line 8", "line 9", "line 10"]
    (request,) = standin.requests_to("/services/bank/logs")
    assert request.method == "GET"
    assert request.query == {"tail": ["3"], "init": ["False"]}
    assert request.headers["authorization"] == f"Bearer {AAD_TOKEN}"


def test_logs_refuses_a_non_positive_tail(standin: ManagementStandin, workspace: Workspace) -> None:
    standin.state.services["bank"] = aci_payload("bank", URI, auth_enabled=True, app_insights=False)
    service = get_webservice(workspace, "bank", timeout=10)
    with pytest.raises(ConfigurationError, match="--tail"):
        fetch_logs(service, tail=0)
    assert standin.requests_to("/services/bank/logs") == []


def test_enable_app_insights_patches_once_and_reports_prior_state(
    standin: ManagementStandin, workspace: Workspace
) -> None:
    standin.state.services["bank"] = aci_payload("bank", URI, auth_enabled=True, app_insights=False)

    first = enable_app_insights(get_webservice(workspace, "bank", timeout=10), timeout=10)
    assert (first.was_enabled, first.enabled) == (False, True)
    assert "enabled for bank" in first.summary()

    (patch,) = standin.requests_to(f"{MMS_PREFIX}/services/bank", "PATCH")
    assert patch.headers["content-type"] == "application/json-patch+json"
    assert patch.headers["authorization"] == f"Bearer {AAD_TOKEN}"
    assert {"op": "replace", "path": "/appInsightsEnabled", "value": True} in patch.json()
    (validate,) = standin.requests_to("/services/validate", "POST")
    assert json.loads(validate.body)["type"] == "Update"
    assert standin.state.services["bank"]["appInsightsEnabled"] is True

    second = enable_app_insights(get_webservice(workspace, "bank", timeout=10), timeout=10)
    assert (second.was_enabled, second.enabled) == (True, True)
    assert "already enabled" in second.summary()
    assert len(standin.requests_to(f"{MMS_PREFIX}/services/bank", "PATCH")) == 1
