"""A ``--deployment`` the endpoint does not know is the user's mistake: exit 2 with one line naming it, in every
command that scores (the endpoint's 404 to a request naming a deployment, Azure's answer for a name it does not
have); any other 404 stays the endpoint's failure (exit 1). Real two-deployment endpoint on loopback."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bankmarketing_client.cli import main
from bankmarketing_client.cli.exits import (
    EXIT_FAILED,
    EXIT_USER_ERROR,
    exit_code_for,
    unknown_deployment_is_a_user_error,
)
from bankmarketing_client.errors import (
    ConfigurationError,
    RunStopped,
    ServiceUnavailableError,
    UnexpectedResponseError,
)
from bankmarketing_client.local.endpoint import LocalEndpoint

pytest_plugins = ["scoring_support"]


@pytest.fixture
def endpoint_env(blue_green: LocalEndpoint, monkeypatch: pytest.MonkeyPatch) -> LocalEndpoint:
    monkeypatch.setenv("BANKMARKETING_SCORING_URI", blue_green.scoring_uri)
    monkeypatch.setenv("BANKMARKETING_API_KEY", blue_green.primary_key)
    monkeypatch.delenv("BANKMARKETING_DEPLOYMENT", raising=False)
    return blue_green


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_predict_with_an_unknown_deployment_exits_2(
    endpoint_env: LocalEndpoint, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = shared_data / "azure-samples" / "data-2020-08-udacity-starter.json"
    argv = ["predict", "--json", str(records), "--contract", "inputs", "--deployment", "purple"]
    assert main(argv) == EXIT_USER_ERROR
    line = _one_line_error(capsys)
    assert "no deployment named 'purple'" in line
    assert "HTTP 404" in line
    assert "request id" in line
    assert endpoint_env.primary_key not in line


@pytest.mark.parametrize("command", [["health"], ["swagger"]])
def test_health_and_swagger_with_an_unknown_deployment_exit_2(
    endpoint_env: LocalEndpoint, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--deployment", "purple"]) == EXIT_USER_ERROR
    line = _one_line_error(capsys)
    assert "no deployment named 'purple'" in line
    assert endpoint_env.primary_key not in line


def test_the_deployment_may_come_from_the_environment(
    endpoint_env: LocalEndpoint, shared_data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BANKMARKETING_DEPLOYMENT", "purple")
    records = shared_data / "azure-samples" / "data-2020-08-udacity-starter.json"
    assert main(["predict", "--json", str(records), "--contract", "inputs"]) == EXIT_USER_ERROR
    assert "no deployment named 'purple'" in _one_line_error(capsys)


def test_score_with_an_unknown_deployment_exits_2_and_leaves_no_file(
    endpoint_env: LocalEndpoint, train_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.csv"
    with train_path.open(newline="", encoding="utf-8") as fh, source.open("w", encoding="utf-8") as out:
        for _, line in zip(range(21), fh, strict=False):
            out.write(line)
    output = tmp_path / "out.csv"
    argv = ["score", str(source), "-o", str(output), "--deployment", "purple", "--quiet", "--contract", "inputs"]
    assert main(argv) == EXIT_USER_ERROR
    line = _one_line_error(capsys)
    assert "no deployment named 'purple'" in line
    assert "HTTP 404" in line
    assert "--resume" not in line
    assert set(tmp_path.iterdir()) == {source}
    # The same run on a deployment that exists goes through: the name was the only mistake.
    assert main([*argv[:4], "--deployment", "green", "--quiet"]) == 0
    with output.open(newline="", encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == 20


def test_a_404_without_a_deployment_stays_the_endpoints_failure() -> None:
    error = UnexpectedResponseError("not found", status=404, request_id="r1")
    with pytest.raises(UnexpectedResponseError), unknown_deployment_is_a_user_error(None):
        raise error


@pytest.mark.parametrize(
    "error",
    [
        UnexpectedResponseError("the endpoint has no deployment named 'x'", status=404, request_id="r1"),
        RunStopped("stopped after 300 rows", UnexpectedResponseError("no deployment", status=404)),
    ],
)
def test_a_404_to_a_named_deployment_becomes_a_user_error_with_the_same_line(error: Exception) -> None:
    with pytest.raises(ConfigurationError) as caught, unknown_deployment_is_a_user_error("x"):
        raise error
    assert str(caught.value) == str(error)
    assert caught.value.__cause__ is error


def test_other_failures_of_a_named_deployment_stay_failures() -> None:
    error = ServiceUnavailableError("the endpoint is not available now", status=503, deployment="x")
    with pytest.raises(ServiceUnavailableError) as caught, unknown_deployment_is_a_user_error("x"):
        raise error
    assert exit_code_for(caught.value) == EXIT_FAILED
