"""Batch endpoints (SDK v2): the real azure-ai-ml and azure-identity against the TLS stand-in of ARM and Entra ID.

The one seam is azure-ai-ml's documented custom cloud (``cloud``/``cloud_metadata``, via ``CustomCloud``) plus the
test CA as ``connection_verify``; nothing inside azure-ai-ml is patched.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from urllib.parse import parse_qs

import pytest
from arm_standin import (
    AML_SCOPE,
    CLIENT_SECRET,
    RESOURCE_GROUP,
    SUBSCRIPTION,
    WORKSPACE,
    WORKSPACE_SCOPE,
    ArmStandin,
    Recorded,
)
from arm_standin_batch import BatchJobPlan, BatchState, batch_endpoint
from azure.ai.ml import MLClient

from bankmarketing_client.azureml.v2.batch_endpoints import (
    BatchJobState,
    JobStillRunning,
    follow_job,
    input_type_for,
    invoke_batch_endpoint,
)
from bankmarketing_client.cli import main
from bankmarketing_client.errors import AzureManagementError, ConfigurationError

pytest_plugins = ["arm_standin", "arm_standin_batch"]

ENDPOINT = "bank-batch"
INPUT = "https://bankdata.blob.core.windows.net/batch/customers.csv"


@pytest.fixture(autouse=True)
def batch_endpoint_exists(arm_standin: ArmStandin, batch_state: BatchState) -> None:
    """``bank-batch`` with its default deployment and ``green``; the stand-in's ``ml_client`` fixture talks to it."""
    batch_state.endpoints[ENDPOINT] = batch_endpoint(arm_standin.url, ENDPOINT)
    batch_state.deployments[ENDPOINT] = [ENDPOINT, "green"]


def token_scopes(standin: ArmStandin) -> list[str]:
    """The scopes of the tokens azure-identity asked the stand-in's Entra ID for, in order."""
    forms = [parse_qs(r.body.decode()) for r in standin.requests_to("/oauth2/v2.0/token", "POST")]
    return [form["scope"][0] for form in forms]


def invocations(standin: ArmStandin) -> list[Recorded]:
    return standin.requests_to(f"/inference/{ENDPOINT}/jobs", "POST")


def test_a_job_is_started_and_followed_to_completion(
    ml_client: MLClient, arm_standin: ArmStandin, batch_state: BatchState
) -> None:
    batch_state.plans[ENDPOINT] = BatchJobPlan(["Running", "Running", "Completed"])
    heard: list[str] = []

    started = invoke_batch_endpoint(ml_client, ENDPOINT, INPUT, timeout=20)
    final = follow_job(ml_client, started.name, poll_interval=0.01, run_timeout=30, request_timeout=20,
                       on_status=lambda state: heard.append(state.status))  # fmt: skip

    assert started.name.startswith("batchjob-")
    assert started.status == "Running"
    assert started.studio_url == f"https://ml.azure.com/runs/{started.name}?wsid={WORKSPACE_SCOPE}"
    assert final == BatchJobState(started.name, "Completed", started.studio_url)
    assert final.finished
    assert final.succeeded
    assert heard == ["Running", "Completed"]  # each change once
    (endpoint_get,) = arm_standin.requests_to(f"/batchEndpoints/{ENDPOINT}", "GET")
    assert endpoint_get.api_version == "2023-10-01"
    # Headers are compared to a boolean first, so a failing assert never prints a token.
    arm_bearer = (
        endpoint_get.headers["Authorization"] == f"Bearer {arm_standin.tokens_for(f'{arm_standin.url}/.default')[-1]}"
    )
    assert arm_bearer
    (post,) = invocations(arm_standin)
    # The invocation URI is not ARM: azure-ai-ml asks Entra ID for an Azure ML token (not ARM's) to call it.
    assert token_scopes(arm_standin)[-1] == AML_SCOPE
    aml_bearer = post.headers["Authorization"] == f"Bearer {arm_standin.tokens_for(AML_SCOPE)[-1]}"
    assert aml_bearer
    assert "azureml-model-deployment" not in post.headers
    assert post.json() == {"properties": {"inputData": {"input_data": {"jobInputType": "UriFile", "uri": INPUT}}}}
    job_gets = arm_standin.requests_to(f"/jobs/{started.name}", "GET")
    assert len(job_gets) == 3  # the read for the studio URL (Running), then Running, Completed
    assert {r.api_version for r in job_gets} == {"2024-01-01-preview"}
    all_bearer = all(r.headers["Authorization"].startswith("Bearer ") for r in job_gets)
    assert all_bearer


def test_a_failed_job_is_reported_as_failed(ml_client: MLClient, batch_state: BatchState) -> None:
    batch_state.plans[ENDPOINT] = BatchJobPlan(["Preparing", "Running", "Failed"])
    started = invoke_batch_endpoint(ml_client, ENDPOINT, INPUT, timeout=20)

    final = follow_job(ml_client, started.name, poll_interval=0.01, run_timeout=30, request_timeout=20)

    assert final.status == "Failed"
    assert final.finished
    assert not final.succeeded


def test_a_deployment_is_checked_named_and_not_carried_into_the_next_job(
    ml_client: MLClient, arm_standin: ArmStandin
) -> None:
    """azure-ai-ml 1.35 writes the deployment header into a class-level dict; the next job must not inherit it."""
    invoke_batch_endpoint(ml_client, ENDPOINT, "azureml://datastores/workspaceblobstore/paths/bank/", deployment="green",
                          timeout=20)  # fmt: skip
    invoke_batch_endpoint(ml_client, ENDPOINT, INPUT, timeout=20)

    first, second = invocations(arm_standin)
    assert first.headers["azureml-model-deployment"] == "green"
    assert first.json()["properties"]["inputData"]["input_data"]["jobInputType"] == "UriFolder"
    assert "azureml-model-deployment" not in second.headers
    (listing,) = arm_standin.requests_to(f"/batchEndpoints/{ENDPOINT}/deployments", "GET")
    assert listing.api_version == "2023-10-01"

    with pytest.raises(AzureManagementError, match="Deployment name blue not found"):
        invoke_batch_endpoint(ml_client, ENDPOINT, INPUT, deployment="blue", timeout=20)
    assert len(invocations(arm_standin)) == 2  # nothing started


def test_an_invocation_azure_refuses_is_one_clear_line(
    ml_client: MLClient, arm_standin: ArmStandin, batch_state: BatchState
) -> None:
    batch_state.invoke_error = (400, "UserError", "The input path does not exist: customers.csv")

    with pytest.raises(AzureManagementError) as caught:
        invoke_batch_endpoint(ml_client, ENDPOINT, INPUT, timeout=20)

    message = str(caught.value)
    assert message.startswith(f"invoke batch endpoint {ENDPOINT!r} failed: ")
    assert "The input path does not exist" in message
    assert "\n" not in message
    assert not arm_standin.requests_to("/jobs/", "GET")


def test_an_unknown_endpoint_is_one_clear_line(ml_client: MLClient) -> None:
    with pytest.raises(AzureManagementError, match="batch endpoint nope not found"):
        invoke_batch_endpoint(ml_client, "nope", INPUT, timeout=20)


def test_a_job_read_that_never_answers_stops_at_the_deadline(ml_client: MLClient, batch_state: BatchState) -> None:
    started = invoke_batch_endpoint(ml_client, ENDPOINT, INPUT, timeout=20)
    batch_state.silent.add(r".*/jobs/batchjob-.*")

    with pytest.raises(AzureManagementError, match=rf"read job '{started.name}': no answer from Azure within 1 s"):
        follow_job(ml_client, started.name, poll_interval=0.01, run_timeout=30, request_timeout=1)


def test_a_job_still_running_after_the_wait_limit_is_reported_with_its_state(
    ml_client: MLClient, batch_state: BatchState
) -> None:
    batch_state.plans[ENDPOINT] = BatchJobPlan(["Running"])
    started = invoke_batch_endpoint(ml_client, ENDPOINT, INPUT, timeout=20)

    with pytest.raises(JobStillRunning, match=r"is still Running after 0\.2 s of waiting") as caught:
        follow_job(ml_client, started.name, poll_interval=0.05, run_timeout=0.2, request_timeout=20)
    assert caught.value.state.name == started.name


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        ("https://acct.blob.core.windows.net/data/customers.csv", "uri_file"),
        ("https://acct.blob.core.windows.net/data/customers.csv?sv=2024&sig=x", "uri_file"),
        ("https://acct.blob.core.windows.net/data/", "uri_folder"),
        ("azureml://datastores/workspaceblobstore/paths/bank", "uri_folder"),
        ("azureml:bank-unlabeled:3", "uri_folder"),
        ("abfss://data@acct.dfs.core.windows.net/bank/part-0001.parquet", "uri_file"),
    ],
)
def test_the_input_type_follows_the_uri(uri: str, kind: str) -> None:
    assert input_type_for(uri) == kind


@pytest.mark.parametrize(
    ("name", "uri", "deployment", "message"),
    [
        (ENDPOINT, "customers.csv", None, "upload a local file first"),
        (ENDPOINT, "/data/customers.csv", None, "not a URI Azure can read"),
        (ENDPOINT, "https://x/a b.csv", None, "without spaces"),
        ("9lives", INPUT, None, "batch endpoint name '9lives' must start with a letter"),
        (ENDPOINT, INPUT, "blue_green", "deployment name 'blue_green' must start with a letter"),
    ],
)
def test_bad_arguments_are_refused_before_any_call(
    name: str, uri: str, deployment: str | None, message: str, ml_client: MLClient, arm_standin: ArmStandin
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        invoke_batch_endpoint(ml_client, name, uri, deployment=deployment, timeout=20)
    assert not arm_standin.requests


def test_the_module_and_the_cli_parser_import_no_azure_sdk() -> None:
    """azure-ai-ml costs seconds to import: only a call that talks to Azure may import it."""
    probe = (
        "import sys\n"
        "import bankmarketing_client.azureml.v2.batch_endpoints\n"
        "from bankmarketing_client.cli import build_parser\n"
        "build_parser().parse_args(['batch-endpoint', 'invoke', 'b', '--input', 'https://x/y.csv'])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('azure', 'azureml')))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


# --- the CLI: the same calls from `bankmarketing-client batch-endpoint invoke` ----------------------------------
@pytest.fixture
def cli_env(arm_standin: ArmStandin, sp_environment: None, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The options and environment a user of a custom cloud would give, naming the stand-in."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(arm_standin.ca_path))
    return [
        "--auth", "service-principal", "--subscription-id", SUBSCRIPTION, "--resource-group", RESOURCE_GROUP,
        "--workspace-name", WORKSPACE, "--arm-endpoint", arm_standin.url, "--authority", arm_standin.url,
    ]  # fmt: skip


def invoke_cli(cli_env: list[str], *extra: str) -> int:
    return main(["-v", "batch-endpoint", "invoke", ENDPOINT, "--input", INPUT, *cli_env, *extra])  # later wins


def assert_no_secret(arm_standin: ArmStandin, *outputs: str) -> None:
    secrets = [CLIENT_SECRET, *arm_standin.issued_tokens]
    assert secrets[1:], "no token was issued: the check would prove nothing"
    leaks = sum(secret in text for secret in secrets for text in outputs)
    assert leaks == 0, "a secret or token appears in the output"  # counted, so the assert never prints it


def test_cli_starts_and_follows_a_job_to_completion(
    cli_env: list[str],
    arm_standin: ArmStandin,
    batch_state: BatchState,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    batch_state.plans[ENDPOINT] = BatchJobPlan(["Queued", "Running", "Completed"])
    code = invoke_cli(cli_env, "--wait", "--poll-interval", "0.01", "--deployment", "green")

    out, err = capsys.readouterr()
    assert code == 0, err
    name, studio, final = out.splitlines()
    assert name.startswith("batchjob-")
    assert studio == f"https://ml.azure.com/runs/{name}?wsid={WORKSPACE_SCOPE}"
    assert final == "Completed"
    assert f"job {name}: Running\njob {name}: Completed\n" in err
    (post,) = invocations(arm_standin)
    assert post.headers["azureml-model-deployment"] == "green"
    assert_no_secret(arm_standin, out, err, caplog.text)


@pytest.mark.parametrize("final", ["Failed", "Canceled"])
def test_cli_exits_1_when_the_job_does_not_complete(
    final: str, cli_env: list[str], batch_state: BatchState, capsys: pytest.CaptureFixture[str]
) -> None:
    batch_state.plans[ENDPOINT] = BatchJobPlan(["Running", "Running", final])

    code = invoke_cli(cli_env, "--wait", "--poll-interval", "0.01")

    out, _ = capsys.readouterr()
    assert code == 1
    assert out.splitlines()[-1] == final


def test_cli_without_wait_prints_the_job_and_leaves_it(
    cli_env: list[str], arm_standin: ArmStandin, capsys: pytest.CaptureFixture[str]
) -> None:
    assert invoke_cli(cli_env) == 0
    name, _studio = capsys.readouterr().out.splitlines()
    assert len(arm_standin.requests_to(f"/jobs/{name}", "GET")) == 1  # the studio URL's read, no polling


def test_cli_exits_1_when_the_job_outlives_the_wait(
    cli_env: list[str], batch_state: BatchState, capsys: pytest.CaptureFixture[str]
) -> None:
    batch_state.plans[ENDPOINT] = BatchJobPlan(["Running"])

    code = invoke_cli(cli_env, "--wait", "--poll-interval", "0.05", "--run-timeout", "0.2")

    err = capsys.readouterr().err
    assert code == 1
    assert "is still Running after 0.2 s of waiting" in err
    assert "Traceback" not in err


def test_cli_stops_at_the_management_deadline_with_one_line(
    cli_env: list[str], batch_state: BatchState, capsys: pytest.CaptureFixture[str]
) -> None:
    """A silent ARM is a management failure, not a job result: the exit table gives it 2, as for v1's commands."""
    batch_state.silent.add(r".*/batchEndpoints/.*")

    code = invoke_cli(cli_env, "--management-timeout", "1")

    err = capsys.readouterr().err
    assert code == 2
    assert f"invoke batch endpoint '{ENDPOINT}': no answer from Azure within 1 s" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--input", "customers.csv"], "upload a local file first"),
        (["--cloud", "AzureChinaCloud"], "give either --cloud or --arm-endpoint/--authority"),
        (["--wait", "--poll-interval", "0"], "must be positive"),
        (["--management-timeout", "-1"], "must be positive"),
    ],
)
def test_cli_misuse_is_one_line_and_calls_nothing(
    extra: list[str], message: str, cli_env: list[str], arm_standin: ArmStandin, capsys: pytest.CaptureFixture[str]
) -> None:
    assert invoke_cli(cli_env, *extra) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not arm_standin.requests
