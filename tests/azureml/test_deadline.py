"""The management deadline: azureml-core's own requests against a server that accepts and never answers."""

from __future__ import annotations

import pytest
from azureml.core import Workspace
from azureml.core.authentication import AbstractAuthentication
from azureml_standin import (
    ARM_SCOPE,
    MMS_PREFIX,
    RESOURCE_GROUP,
    SUBSCRIPTION,
    WORKSPACE,
    silent_server,
)

from bankmarketing_client.azureml import call_with_deadline, discover_service, trigger_pipeline
from bankmarketing_client.errors import AzureManagementError, ConfigurationError

pytest_plugins = ["azureml_standin"]


def test_result_and_errors_pass_through_the_worker() -> None:
    assert call_with_deadline(lambda: 42, seconds=5, what="answer") == 42

    def fails() -> int:
        raise RuntimeError("Received bad response\nResponse Code: 500\nHeaders: {}")

    with pytest.raises(AzureManagementError, match=r"^list things failed: Received bad response Response Code: 500"):
        call_with_deadline(fails, seconds=5, what="list things")

    def user_mistake() -> int:
        raise ConfigurationError("no service name")

    with pytest.raises(ConfigurationError, match="no service name"):
        call_with_deadline(user_mistake, seconds=5, what="x")


def test_service_lookup_on_a_silent_network_stops_at_the_deadline(
    aad_auth: AbstractAuthentication, monkeypatch: pytest.MonkeyPatch
) -> None:
    import azureml.core.webservice.webservice as webservice_module

    with silent_server() as url:
        monkeypatch.setattr(webservice_module, "_get_mms_url", lambda _ws: url + MMS_PREFIX)
        workspace = Workspace(SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE, auth=aad_auth, _disable_service_check=True)
        with pytest.raises(AzureManagementError, match=r"get service 'bank': no answer from Azure within 2 s"):
            discover_service(workspace, "bank", timeout=2)


def test_pipeline_trigger_on_a_silent_network_stops_at_the_deadline(aad_auth: AbstractAuthentication) -> None:
    with silent_server() as url, pytest.raises(AzureManagementError, match="within 2 s"):
        trigger_pipeline(
            f"{url}/pipelines/v1.0{ARM_SCOPE}/PipelineRuns/PipelineSubmit/p1",
            auth=aad_auth,
            experiment="e",
            timeout=2,
        )
