"""Published-pipeline trigger and run polling against the recording stand-in, with a real azureml auth."""

from __future__ import annotations

import pytest
from azureml.core.authentication import AbstractAuthentication, ArmTokenAuthentication
from azureml_standin import (
    AAD_TOKEN,
    ARM_SCOPE,
    RESOURCE_GROUP,
    SUBSCRIPTION,
    WORKSPACE,
    ManagementStandin,
)

from bankmarketing_client.azureml import RunHistory, WorkspaceRef, trigger_pipeline, wait_for_run
from bankmarketing_client.cli.exits import EXIT_FAILED, exit_code_for
from bankmarketing_client.errors import AzureManagementError, ConfigurationError, StillRunning

pytest_plugins = ["azureml_standin"]

PIPELINE_ID = "9f1c2d3e-aaaa-bbbb-cccc-123456789abc"


def endpoint_url(standin: ManagementStandin, pipeline_id: str = PIPELINE_ID) -> str:
    return f"{standin.url}/pipelines/v1.0{ARM_SCOPE}/PipelineRuns/PipelineSubmit/{pipeline_id}"


def history(standin: ManagementStandin, auth: AbstractAuthentication) -> RunHistory:
    return RunHistory(standin.url, WorkspaceRef(SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE), auth)


def test_trigger_posts_experiment_and_parameters_with_the_aad_header(
    standin: ManagementStandin, aad_auth: AbstractAuthentication
) -> None:
    standin.state.pipelines.add(PIPELINE_ID)

    run_id = trigger_pipeline(
        endpoint_url(standin),
        auth=aad_auth,
        experiment="bankmarketing-retrain",
        parameters={"max_iterations": 5, "label": "y"},
        timeout=10,
    )

    assert run_id == "run-0001"
    (post,) = standin.requests
    assert post.method == "POST"
    assert post.path.endswith(f"/PipelineSubmit/{PIPELINE_ID}")
    assert post.headers["authorization"] == f"Bearer {AAD_TOKEN}"
    assert post.headers["content-type"] == "application/json"
    assert post.json() == {
        "ExperimentName": "bankmarketing-retrain",
        "ParameterAssignments": {"max_iterations": 5, "label": "y"},
    }


def test_wait_for_run_polls_until_a_terminal_status(
    standin: ManagementStandin, aad_auth: AbstractAuthentication
) -> None:
    standin.state.pipelines.add(PIPELINE_ID)
    run_id = trigger_pipeline(endpoint_url(standin), auth=aad_auth, experiment="exp-a", timeout=10)
    seen: list[str] = []

    final = wait_for_run(history(standin, aad_auth), "exp-a", run_id, poll_interval=0.01, on_status=seen.append)

    assert final == "Completed"
    assert seen == ["NotStarted", "Running", "Completed"]
    polls = standin.requests_to(f"/history/v1.0{ARM_SCOPE}/experiments/exp-a/runs/{run_id}", "GET")
    assert len(polls) == 4  # NotStarted, Running, Running, Completed
    assert all(p.headers["authorization"] == f"Bearer {AAD_TOKEN}" for p in polls)


def test_wait_gives_up_after_its_timeout(standin: ManagementStandin, aad_auth: AbstractAuthentication) -> None:
    standin.state.pipelines.add(PIPELINE_ID)
    run_id = trigger_pipeline(endpoint_url(standin), auth=aad_auth, experiment="exp-b", timeout=10)
    standin.state.runs[run_id] = ["Running"]  # never finishes

    with pytest.raises(StillRunning, match=r"still Running after 0.05 s") as caught:
        wait_for_run(history(standin, aad_auth), "exp-b", run_id, poll_interval=0.01, timeout=0.05)
    # a run that outlives the wait did not complete: exit 1 as a failed run, as batch-endpoint jobs do (not 2)
    assert exit_code_for(caught.value) == EXIT_FAILED


def test_unknown_pipeline_and_wrong_token_are_clear_errors(standin: ManagementStandin) -> None:
    good = ArmTokenAuthentication(AAD_TOKEN, cloud="AzureCloud")
    with pytest.raises(AzureManagementError, match="HTTP 404"):
        trigger_pipeline(endpoint_url(standin, "missing"), auth=good, experiment="e", timeout=10)
    standin.state.pipelines.add(PIPELINE_ID)
    bad = ArmTokenAuthentication("expired-token", cloud="AzureCloud")
    with pytest.raises(AzureManagementError, match="HTTP 401") as info:
        trigger_pipeline(endpoint_url(standin), auth=bad, experiment="e", timeout=10)
    assert "expired-token" not in str(info.value)


def test_trigger_validates_its_inputs(aad_auth: AbstractAuthentication) -> None:
    with pytest.raises(ConfigurationError, match="http"):
        trigger_pipeline("ftp://x/pipeline", auth=aad_auth, experiment="e")
    with pytest.raises(ConfigurationError, match="not a URL") as caught:  # a secret pasted in the wrong place
        trigger_pipeline("Zx9SECRETKEYvalue", auth=aad_auth, experiment="e")
    assert "SECRET" not in str(caught.value)
    with pytest.raises(ConfigurationError, match="experiment"):
        trigger_pipeline("https://example.invalid/p", auth=aad_auth, experiment=" ")
