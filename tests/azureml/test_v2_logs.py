"""Deployment logs and App Insights (SDK v2) from Python: real azure-ai-ml against the TLS stand-in of ARM."""

from __future__ import annotations

import pytest
from arm_standin import ArmStandin, online_deployment, online_endpoint
from azure.ai.ml import MLClient

from bankmarketing_client.azureml.v2.logs import enable_deployment_app_insights, fetch_deployment_logs
from bankmarketing_client.errors import AzureManagementError, ConfigurationError

pytest_plugins = ["arm_standin"]

URI = "https://bank.westeurope.inference.ml.azure.com/score"


@pytest.fixture
def bank(arm_standin: ArmStandin) -> ArmStandin:
    arm_standin.state.endpoints["bank"] = online_endpoint("bank", URI, traffic={"blue": 100})
    arm_standin.state.deployments[("bank", "blue")] = online_deployment("bank", "blue")
    arm_standin.state.logs[("bank", "blue", "InferenceServer")] = "one\ntwo\nthree\n"
    return arm_standin


def test_logs_are_the_last_lines_of_the_chosen_container(bank: ArmStandin, ml_client: MLClient) -> None:
    assert fetch_deployment_logs(ml_client, "bank", "blue", tail=2, timeout=20) == "two\nthree\n"
    assert fetch_deployment_logs(ml_client, "bank", "blue", container="storage-initializer", timeout=20) == ""
    bodies = [r.json() for r in bank.requests_to("/deployments/blue/getLogs")]
    assert bodies == [
        {"containerType": "InferenceServer", "tail": 2},
        {"containerType": "StorageInitializer", "tail": 5000},
    ]


def test_bad_tail_or_container_is_refused_before_any_call(bank: ArmStandin, ml_client: MLClient) -> None:
    with pytest.raises(ConfigurationError, match="--tail must be a positive number"):
        fetch_deployment_logs(ml_client, "bank", "blue", tail=0)
    with pytest.raises(ConfigurationError, match="unknown container 'InferenceServer'"):
        fetch_deployment_logs(ml_client, "bank", "blue", container="InferenceServer")  # type: ignore[arg-type]
    assert bank.requests == []


def test_app_insights_is_turned_on_once(bank: ArmStandin, ml_client: MLClient) -> None:
    change = enable_deployment_app_insights(ml_client, "bank", "blue", timeout=20)
    assert (change.was_enabled, change.enabled) == (False, True)
    assert change.summary() == "Application Insights enabled for bank/blue"
    again = enable_deployment_app_insights(ml_client, "bank", "blue", timeout=20)
    assert (again.was_enabled, again.enabled) == (True, True)
    (put,) = bank.requests_to("/deployments/blue", "PUT")
    sent = put.json()
    assert sent["properties"]["appInsightsEnabled"] is True
    # The deployment is sent back as read: only the one setting changes.
    assert sent["properties"]["instanceType"] == "Standard_DS3_v2"
    assert sent["sku"]["capacity"] == 1


def test_an_update_that_never_finishes_ends_at_the_deadline(bank: ArmStandin, ml_client: MLClient) -> None:
    bank.state.lro_polls = 10**9  # Azure keeps answering InProgress
    with pytest.raises(
        AzureManagementError,
        match=r"enable Application Insights for deployment 'blue' of endpoint 'bank': no answer from Azure within 2 s",
    ):
        enable_deployment_app_insights(ml_client, "bank", "blue", timeout=2)
    assert len(bank.requests_to("/deployments/blue", "PUT")) == 1
    bank.finish_operations()  # the abandoned poller thread stops at its next poll
