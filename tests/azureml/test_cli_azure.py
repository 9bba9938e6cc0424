"""``discover``/``logs``/``pipeline`` through ``main()`` against the recording stand-in.

The only seam replaced is the CLI's choice of credential (``_auth``): tests have no ``az login``, so it returns
a real ``ArmTokenAuthentication`` instead of ``AzureCliAuthentication``. Everything else is the real path.
"""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import httpx
import pytest
from azureml.core.authentication import AbstractAuthentication
from azureml.core.webservice import webservice as webservice_module
from azureml_standin import (
    AAD_TOKEN,
    ARM_SCOPE,
    RESOURCE_GROUP,
    SUBSCRIPTION,
    WORKSPACE,
    ManagementStandin,
    aci_payload,
)

from bankmarketing_client.cli import azure as azure_cli
from bankmarketing_client.cli import build_parser, main
from bankmarketing_client.cli.docs import docs_server_for
from bankmarketing_client.files import write_secret_file
from bankmarketing_client.local.endpoint import LocalEndpoint

pytest_plugins = ["azureml_standin"]

URI = "http://bank.westeurope.azurecontainer.io/score"


@pytest.fixture
def cli_env(
    standin: ManagementStandin, aad_auth: AbstractAuthentication, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    """A config.json for the stand-in's workspace; returns its path."""
    monkeypatch.setattr(webservice_module, "_get_mms_url", lambda _ws: standin.mms_url)
    monkeypatch.setattr(azure_cli, "_auth", lambda _args: aad_auth)
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"subscription_id": SUBSCRIPTION, "resource_group": RESOURCE_GROUP, "workspace_name": WORKSPACE})
    )
    standin.state.services["bank"] = aci_payload("bank", URI, auth_enabled=True, app_insights=False)
    standin.state.keys["bank"] = ("primary-secret-1", "secondary-secret-2")
    standin.state.logs["bank"] = "booting\nready\nscored 2 rows"
    return config


def ws_args(config: Path) -> list[str]:
    return ["--config", str(config), "--skip-workspace-check", "--management-timeout", "10"]


def test_discover_prints_uris_and_mode_never_keys(
    cli_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "key"
    assert main(["discover", "--service", "bank", "--key-file", str(key_file), *ws_args(cli_env)]) == 0
    out, err = capsys.readouterr()
    assert f"scoring URI:  {URI}" in out
    assert "swagger URI:  http://bank.westeurope.azurecontainer.io/swagger.json" in out
    assert "auth mode:    key" in out
    assert "secret" not in out + err
    assert key_file.read_text() == "primary-secret-1\n"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_key_file_that_existed_with_a_wider_mode_is_narrowed(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("old contents that are longer than the key\n")
    key_file.chmod(0o644)
    write_secret_file(key_file, "primary-secret-1")
    assert key_file.read_text() == "primary-secret-1\n"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_logs_with_app_insights(cli_env: Path, standin: ManagementStandin, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["logs", "--service", "bank", "--tail", "2", "--enable-app-insights", *ws_args(cli_env)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == ["ready", "scored 2 rows"]
    assert "Application Insights enabled for bank" in err
    # One look-up of the service serves both steps (the PATCH's own re-read is azureml-core's update()).
    assert len(standin.requests_to("/services/bank", "GET")) == 2
    assert main(["logs", "--service", "bank", "--enable-app-insights", *ws_args(cli_env)]) == 0
    assert "already enabled" in capsys.readouterr().err
    assert len(standin.requests_to("/services/bank", "PATCH")) == 1


def test_pipeline_trigger_and_wait(
    cli_env: Path, standin: ManagementStandin, capsys: pytest.CaptureFixture[str]
) -> None:
    standin.state.pipelines.add("p1")
    endpoint = f"{standin.url}/pipelines/v1.0{ARM_SCOPE}/PipelineRuns/PipelineSubmit/p1"
    # --wait asks the workspace's service discovery (ARM, then the discovery service, cached in ~/.azureml)
    # where run history lives; answer that lookup with the stand-in instead of reaching out to Azure.
    from azureml._restclient.service_context import ServiceContext
    from azureml.core import Workspace

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Workspace, "discovery_url", property(lambda _ws: f"{standin.url}/discovery"))
        mp.setattr(ServiceContext, "_fetch_endpoints", lambda _ctx: {"history": standin.url})
        code = main(
            [
                "pipeline",
                "--endpoint",
                endpoint,
                "--experiment",
                "retrain",
                "--param",
                "max_iterations=5",
                "--param",
                "label=y",
                "--wait",
                "--poll-interval",
                "0.01",
                *ws_args(cli_env),
            ]
        )
    out, err = capsys.readouterr()
    assert code == 0
    assert out.splitlines() == ["run-0001", "Completed"]
    assert "run run-0001: Running" in err
    (post,) = standin.requests_to("/PipelineSubmit/p1", "POST")
    assert post.json() == {"ExperimentName": "retrain", "ParameterAssignments": {"max_iterations": 5, "label": "y"}}
    assert post.headers["authorization"] == f"Bearer {AAD_TOKEN}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["discover", "--service", "bank", "--config", "/nonexistent/config.json"], "does not exist"),
        (["discover", "--service", "bank", "--subscription-id", "s"], "give either --config or all three"),
        (["logs", "--service", "bank", "--tail", "0"], "--tail must be a positive"),
        (["pipeline", "--endpoint", "https://x/p", "--experiment", "e", "--param", "novalue"], "expected NAME=VALUE"),
        (["discover", "--service", "bank", "--management-timeout", "0"], "must be positive"),
    ],
)
def test_user_mistakes_are_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_docs_for_a_workspace_service_uses_the_discovered_key(
    cli_env: Path, standin: ManagementStandin, endpoint_inputs: LocalEndpoint
) -> None:
    """``docs --service``: discovery feeds the Swagger UI proxy, which then scores with the discovered key."""
    standin.state.services["bank"] = aci_payload(
        "bank", endpoint_inputs.scoring_uri, auth_enabled=True, app_insights=False
    )
    standin.state.keys["bank"] = (endpoint_inputs.primary_key, endpoint_inputs.secondary_key)
    args = build_parser().parse_args(["docs", "--service", "bank", *ws_args(cli_env)])
    with docs_server_for(args) as server, server.running():
        assert server.swagger_uri == endpoint_inputs.swagger_uri
        response = httpx.get(f"http://127.0.0.1:{server.port}/api/")
        spec = httpx.get(f"http://127.0.0.1:{server.port}/swagger.json").json()
    assert response.status_code == 200
    assert spec["basePath"] == "/api"
    assert server.api_key == endpoint_inputs.primary_key


def test_interactive_login_is_under_the_management_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Stand-in for InteractiveLoginAuthentication: the real one waits for a person at a browser, which a test
    cannot provide. Its constructor blocks here until the test ends, like a login nobody completes."""
    from azureml.core import authentication

    release = threading.Event()

    class StalledLogin:
        def __init__(self, tenant_id: str | None = None) -> None:
            release.wait(30)

    monkeypatch.setattr(authentication, "InteractiveLoginAuthentication", StalledLogin)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"subscription_id": "s", "resource_group": "g", "workspace_name": "w"}))
    argv = ["discover", "--service", "bank", "--config", str(config), "--auth", "interactive"]
    try:
        assert main([*argv, "--skip-workspace-check", "--management-timeout", "0.3"]) != 0
    finally:
        release.set()
    err = capsys.readouterr().err
    assert "interactive" in err
    assert "within 0.3 s" in err
