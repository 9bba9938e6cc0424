"""``discover --endpoint`` and ``logs --endpoint`` (SDK v2) through the CLI, against the TLS stand-in of ARM.

The CLI reaches the stand-in only through what a user of a custom cloud would set: ``--arm-endpoint`` and
``--authority`` (azure-ai-ml's custom cloud, azure-identity's authority), ``REQUESTS_CA_BUNDLE`` (the CA, honoured by
azure-core's transport) and a service principal in ``AZURE_*``. Nothing is patched.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from arm_standin import (
    CLIENT_SECRET,
    WORKSPACE_SCOPE,
    ArmStandin,
    online_endpoint,
)
from netaudit import PlainListener, audit_command, read_events

from bankmarketing_client.cli import main
from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.local.pytest_plugin import EndpointFactory

pytest_plugins = ["arm_standin"]

LOG = "".join(f"2026-12-02 10:00:{i:02d} INFO scored {i} rows\n" for i in range(10))


@pytest.fixture(scope="module")
def key_endpoint(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    return bankmarketing_endpoint_factory(deployments=["blue", "green"], traffic={"blue": 100}, worker_count=1)


@pytest.fixture(scope="module")
def token_endpoint(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    return bankmarketing_endpoint_factory(auth_mode="aml_token", worker_count=1)


def test_discover_endpoint_prints_the_summary_and_writes_the_key_file(
    arm_standin: ArmStandin,
    key_endpoint: LocalEndpoint,
    workspace_args: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    arm_standin.serve_local_endpoint("bank", key_endpoint)
    key_file = tmp_path / "bank.key"

    code = main(["discover", "--endpoint", "bank", "--key-file", str(key_file), *workspace_args])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"scoring URI:  {key_endpoint.scoring_uri}" in out
    assert "auth mode:    key" in out
    assert "traffic:      blue 100 %" in out
    assert "pending limit: 4 " in out
    assert "  green: Standard_DS3_v2 x 1, max_concurrent 2, request_timeout 5000 ms" in out
    assert key_file.read_text() == key_endpoint.primary_key + "\n"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    for secret in (key_endpoint.primary_key, key_endpoint.secondary_key, CLIENT_SECRET):
        assert secret not in out + err


def test_an_aml_token_written_by_discover_is_what_predict_key_file_reads(
    arm_standin: ArmStandin,
    token_endpoint: LocalEndpoint,
    workspace_args: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    shared_data: Path,
) -> None:
    arm_standin.serve_local_endpoint("tokened", token_endpoint)
    token_file = tmp_path / "token.json"
    assert main(["discover", "--endpoint", "tokened", "--key-file", str(token_file), *workspace_args]) == 0
    answer = json.loads(token_file.read_text())
    assert set(answer) == {"accessToken", "expiryTimeUtc", "refreshAfterTimeUtc", "tokenType"}
    sample = shared_data / "azure-samples" / "data-2021-06-schema-order.json"

    code = main(
        ["predict", "--scoring-uri", token_endpoint.scoring_uri, "--key-file", str(token_file), "--json", str(sample)]
    )

    out, err = capsys.readouterr()
    assert code == 0, err
    assert answer["accessToken"] not in out + err


def test_logs_tail_and_container(
    arm_standin: ArmStandin,
    key_endpoint: LocalEndpoint,
    workspace_args: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    arm_standin.serve_local_endpoint("bank", key_endpoint)
    arm_standin.state.logs[("bank", "green", "InferenceServer")] = LOG
    arm_standin.state.logs[("bank", "green", "StorageInitializer")] = "downloading model\nmodel ready\n"

    assert main(["logs", "--endpoint", "bank", "--deployment", "green", "--tail", "2", *workspace_args]) == 0
    assert capsys.readouterr().out == "".join(LOG.splitlines(keepends=True)[-2:])
    args = ["logs", "--endpoint", "bank", "--deployment", "green", "--container", "storage-initializer"]
    assert main([*args, *workspace_args]) == 0
    assert capsys.readouterr().out == "downloading model\nmodel ready\n"

    first, second = arm_standin.requests_to("/deployments/green/getLogs", "POST")
    assert first.json() == {"containerType": "InferenceServer", "tail": 2}
    assert second.json() == {"containerType": "StorageInitializer", "tail": 5000}
    assert first.api_version == "2023-04-01-preview"


def test_enable_app_insights_updates_the_deployment_and_waits(
    arm_standin: ArmStandin,
    key_endpoint: LocalEndpoint,
    workspace_args: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    arm_standin.serve_local_endpoint("bank", key_endpoint)
    arm_standin.state.lro_polls = 2
    args = ["logs", "--endpoint", "bank", "--deployment", "blue", "--enable-app-insights", *workspace_args]

    assert main(args) == 0
    assert "Application Insights enabled for bank/blue" in capsys.readouterr().err
    (put,) = arm_standin.requests_to("/deployments/blue", "PUT")
    assert put.api_version == "2023-04-01-preview"
    assert put.json()["properties"]["appInsightsEnabled"] is True
    polls = [r for r in arm_standin.requests if re.search(r"/operations/[0-9a-f]+$", r.path)]
    assert len(polls) == 3  # InProgress twice, then Succeeded: the command waited for the end
    assert arm_standin.state.deployments[("bank", "blue")]["properties"]["appInsightsEnabled"] is True

    assert main(args) == 0
    assert "Application Insights was already enabled for bank/blue" in capsys.readouterr().err
    assert len(arm_standin.requests_to("/deployments/blue", "PUT")) == 1  # nothing sent the second time


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["logs", "--endpoint", "bank"], "logs --endpoint needs --deployment"),
        (["logs", "--service", "bank", "--deployment", "blue"], "--deployment apply to --endpoint (SDK v2)"),
        (["discover", "--service", "bank", "--auth", "default"], "--auth default apply to --endpoint"),
        (["logs", "--endpoint", "bank", "--deployment", "9x"], "deployment name '9x' must start with a letter"),
        (["logs", "--endpoint", "bank", "--deployment", "blue", "--tail", "0"], "--tail must be a positive"),
    ],
)
def test_option_mistakes_exit_2_with_one_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--config", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("name", ["bank/../other", "bank\r\nX-Injected: 1", "bank?api-version=1", "x" * 5000])
@pytest.mark.parametrize("command", [["discover"], ["logs", "--deployment", "blue"]])
def test_an_endpoint_name_azure_would_refuse_never_reaches_resource_manager(
    name: str,
    command: list[str],
    workspace_args: list[str],
    arm_standin: ArmStandin,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The name goes into an ARM path: a '/', '..', '?' or CR/LF there would address another resource or split the
    request, so it is refused before signing in (the stand-in records no request at all)."""
    before = len(arm_standin.requests)
    assert main([command[0], "--endpoint", name, *command[1:], *workspace_args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "endpoint name" in err
    assert "must start with a letter" in err
    assert len(err) < 400  # a 5000-character name is quoted in part
    assert len(arm_standin.requests) == before


def test_custom_cloud_options_are_checked(
    workspace_args: list[str], arm_standin: ArmStandin, capsys: pytest.CaptureFixture[str]
) -> None:
    at = workspace_args.index("--authority")
    without_authority = workspace_args[:at] + workspace_args[at + 2 :]
    assert main(["discover", "--endpoint", "bank", *without_authority]) == 2
    assert "--arm-endpoint needs --authority" in capsys.readouterr().err
    assert main(["discover", "--endpoint", "bank", *workspace_args, "--cloud", "AzureChinaCloud"]) == 2
    assert "give either --cloud or --arm-endpoint/--authority" in capsys.readouterr().err
    assert arm_standin.requests == []


def test_aad_endpoint_has_no_key_to_write(
    arm_standin: ArmStandin, workspace_args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arm_standin.state.endpoints["bank-aad"] = online_endpoint(
        "bank-aad", "https://bank-aad.westeurope.inference.ml.azure.com/score", auth_mode="aad_token"
    )
    key_file = tmp_path / "none.key"
    assert main(["discover", "--endpoint", "bank-aad", "--key-file", str(key_file), *workspace_args]) == 2
    out, err = capsys.readouterr()
    assert "auth mode:    aad_token" in out
    assert "uses aad_token auth: it has no key" in err
    assert not key_file.exists()


def test_logs_call_that_never_answers_ends_at_the_deadline(
    arm_standin: ArmStandin, workspace_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    arm_standin.silence("POST", re.escape(WORKSPACE_SCOPE) + r"/onlineEndpoints/bank/deployments/blue/getLogs")
    args = ["logs", "--endpoint", "bank", "--deployment", "blue", *workspace_args, "--management-timeout", "0.5"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert (
        "get the inference-server logs of deployment 'blue' of endpoint 'bank': no answer from Azure within 0.5 s"
        in err
    )


def test_no_secret_in_any_output_with_debug_logging(
    arm_standin: ArmStandin, key_endpoint: LocalEndpoint, workspace_args: list[str], tmp_path: Path
) -> None:
    """A real process with ``-vv``: azure-core, azure-identity, MSAL and the CLI all log at DEBUG to stderr."""
    arm_standin.serve_local_endpoint("bank", key_endpoint)
    arm_standin.state.logs[("bank", "blue", "InferenceServer")] = LOG
    runs = [
        ["discover", "--endpoint", "bank", *workspace_args],
        ["logs", "--endpoint", "bank", "--deployment", "blue", "--enable-app-insights", *workspace_args],
    ]
    output = ""
    for argv in runs:
        done = subprocess.run(
            [sys.executable, "-m", "bankmarketing_client.cli", "-vv", *argv],
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ),
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        output += done.stdout + done.stderr
    assert "DEBUG" in output  # the debug logs were really on
    assert "Application Insights enabled for bank/blue" in output
    secrets = [key_endpoint.primary_key, key_endpoint.secondary_key, CLIENT_SECRET, *arm_standin.issued_tokens]
    assert len(secrets) >= 5  # both keys, the secret and one ARM token per process
    for secret in secrets:
        assert secret not in output


# -- management tokens only over TLS -------------------------------------------------------------------------

MANAGEMENT_COMMANDS = {
    "discover": ["discover", "--endpoint", "bank"],
    "logs": ["logs", "--endpoint", "bank", "--deployment", "blue"],
    "batch-endpoint invoke": ["batch-endpoint", "invoke", "scorer", "--input", "https://h.example/in.csv"],
}


def _with_option(workspace_args: list[str], option: str, value: str) -> list[str]:
    at = workspace_args.index(option)
    return [*workspace_args[:at], option, value, *workspace_args[at + 2 :]]


@pytest.mark.parametrize("command", list(MANAGEMENT_COMMANDS))
@pytest.mark.parametrize("option", ["--arm-endpoint", "--authority"])
def test_a_plain_http_cloud_is_refused_before_signing_in(
    command: str, option: str, arm_standin: ArmStandin, workspace_args: list[str], tmp_path: Path
) -> None:
    """A real CLI process, its Resource Manager or authority pointed at a plain listener on loopback (where the
    token would arrive in clear: with an http Resource Manager azure-ai-ml switches azure-core's https check off,
    and signed in at the stand-in first; an http authority was a ValueError traceback). Refused in one line, exit 2:
    the listener gets no byte and the TLS stand-in no request, not even the sign-in."""
    with PlainListener() as listener:
        argv = [*MANAGEMENT_COMMANDS[command], *_with_option(workspace_args, option, listener.url)]
        done = subprocess.run(
            [sys.executable, "-m", "bankmarketing_client.cli", *argv],
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ),
            cwd=tmp_path,
            check=False,
        )
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr == (
        f"bankmarketing-client: error: {option} must be an https:// URL (got a 'http' URL): a management token sent "
        "over plain http could be read on the way\n"
    )
    assert listener.received == []
    assert arm_standin.requests == []


# -- a service principal in the environment, and no --auth ---------------------------------------------------

SP_HINT = (
    "bankmarketing-client: error: az login cannot sign in (Azure CLI not found on path), but a service principal is "
    "configured in AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET: sign in with it with --auth "
    "service-principal (make_credential('service-principal') in Python)\n"
)


@pytest.mark.parametrize("command", ["discover", "logs"])
def test_a_configured_service_principal_is_named_when_az_login_cannot_sign_in(
    command: str, sp_environment: None, tmp_path: Path
) -> None:
    """The default ``--auth cli`` on a machine without the Azure CLI, the real azure-identity underneath: one line
    naming the service principal the environment holds and the option that uses it (no azure.identity warning line
    before it), and it fails before any name lookup or connection (``tests/netaudit.py`` records none)."""
    (tmp_path / "config.json").write_text(
        json.dumps({"subscription_id": "s", "resource_group": "r", "workspace_name": "w"})
    )
    no_az = tmp_path / "bin"
    no_az.mkdir()
    log = tmp_path / "net.log"
    argv = [*MANAGEMENT_COMMANDS[command], "--config", str(tmp_path / "config.json")]
    done = subprocess.run(
        audit_command(log, "bankmarketing_client.cli", *argv),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": str(no_az)},  # no `az` to be found, as on a build agent with only a principal
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr == SP_HINT
    assert CLIENT_SECRET not in done.stdout + done.stderr
    assert read_events(log) == []


def test_without_a_service_principal_the_cli_credentials_own_error_stands(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from azure.identity import AzureCliCredential, CredentialUnavailableError

    from bankmarketing_client.azureml.v2.workspace import make_credential

    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    credential = make_credential("cli")
    assert isinstance(credential, AzureCliCredential)
    with pytest.raises(CredentialUnavailableError, match="Azure CLI not found on path"):
        credential.get_token("https://management.azure.com/.default")
