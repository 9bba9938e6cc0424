"""``bankmarketing-client health | swagger | predict`` against the real local endpoint, run in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bankmarketing_client.cli import main
from bankmarketing_client.cli.exits import EXIT_FAILED, EXIT_USER_ERROR, exit_code_for
from bankmarketing_client.errors import (
    AuthenticationError,
    BankMarketingError,
    ConfigurationError,
    DatasetError,
    RunStopped,
    ServiceUnavailableError,
    UnexpectedResponseError,
)
from bankmarketing_client.local.endpoint import LocalEndpoint

pytest_plugins = ["scoring_support"]


@pytest.fixture
def env_for(monkeypatch: pytest.MonkeyPatch) -> Any:
    def point_at(endpoint: LocalEndpoint) -> None:
        monkeypatch.setenv("BANKMARKETING_SCORING_URI", endpoint.scoring_uri)
        monkeypatch.setenv("BANKMARKETING_API_KEY", endpoint.primary_key)

    return point_at


def test_health(endpoint_data: LocalEndpoint, env_for: Any, capsys: pytest.CaptureFixture[str]) -> None:
    env_for(endpoint_data)
    assert main(["health"]) == 0
    assert capsys.readouterr().out == "Healthy\n"


def test_swagger_to_a_file(
    endpoint_inputs: LocalEndpoint, env_for: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_for(endpoint_inputs)
    target = tmp_path / "swagger3.json"
    assert main(["swagger", "--version", "3", "-o", str(target)]) == 0
    assert json.loads(target.read_text())["openapi"] == "3.0.3"
    assert main(["swagger"]) == 0
    assert json.loads(capsys.readouterr().out)["swagger"] == "2.0"


@pytest.mark.parametrize(
    ("family", "sample"),
    [
        ("inputs", "data-2023-07-inputs-globalparams-benchmarked.json"),
        ("data", "data-2020-08-udacity-starter.json"),
        ("inputs", "data-2020-08-udacity-starter.json"),  # a data-family file sent to an inputs endpoint
    ],
)
def test_predict_an_azure_data_json(
    request: pytest.FixtureRequest,
    shared_data: Path,
    env_for: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    family: str,
    sample: str,
) -> None:
    endpoint: LocalEndpoint = request.getfixturevalue(f"endpoint_{family}")
    env_for(endpoint)
    raw = tmp_path / "answer.json"
    code = main(["predict", "--json", str(shared_data / "azure-samples" / sample), "--raw-output", str(raw)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out == "1\tyes\n2\tno\n"
    assert "request id" in captured.err
    answer = json.loads(raw.read_bytes())
    results = answer["Results"] if family == "inputs" else json.loads(answer)["result"]
    assert results == ["yes", "no"]


def test_predict_with_probabilities(
    endpoint_inputs: LocalEndpoint,
    env_for: Any,
    tmp_path: Path,
    sample_records: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    env_for(endpoint_inputs)
    path = tmp_path / "records.json"
    path.write_text(json.dumps(sample_records))
    assert main(["predict", "--json", str(path), "--proba"]) == 0
    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [(row, label) for row, label, _ in lines] == [("1", "yes"), ("2", "no")]
    assert all(0.0 <= float(p) <= 1.0 for _, _, p in lines)


def test_key_from_a_file(
    endpoint_inputs: LocalEndpoint, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BANKMARKETING_API_KEY", raising=False)
    key_file = tmp_path / "key"
    key_file.write_text(endpoint_inputs.secondary_key + "\n")
    assert main(["health", "--scoring-uri", endpoint_inputs.scoring_uri, "--key-file", str(key_file)]) == 0
    assert capsys.readouterr().out == "Healthy\n"


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_bad_record_is_one_clean_line_and_nothing_is_sent(
    endpoint_inputs: LocalEndpoint,
    env_for: Any,
    tmp_path: Path,
    sample_records: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    env_for(endpoint_inputs)
    records = [dict(r) for r in sample_records]
    records[1]["age"] = "eighty-seven"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"data": records}))
    before = endpoint_inputs.stats().get("requests", 0)
    assert main(["predict", "--json", str(path), "--contract", "inputs"]) == 2
    line = _one_line_error(capsys)
    assert "row 2, age: 'eighty-seven' is not an integer" in line
    assert endpoint_inputs.stats().get("requests", 0) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('{"rows": []}', "expected a list of records"),
        ('{"data": []}', "no records to score"),
        ('{"data": {"age": 1}}', "must be a JSON list"),
    ],
)
def test_bad_files_are_one_clean_line(
    endpoint_inputs: LocalEndpoint,
    env_for: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    message: str,
) -> None:
    env_for(endpoint_inputs)
    path = tmp_path / "input.json"
    path.write_text(content)
    assert main(["predict", "--json", str(path)]) == 2
    assert message in _one_line_error(capsys)


def test_missing_file_and_missing_uri(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BANKMARKETING_SCORING_URI", raising=False)
    assert main(["predict", "--json", str(tmp_path / "nope.json"), "--scoring-uri", "http://127.0.0.1:9/score"]) == 2
    assert "cannot read" in _one_line_error(capsys)
    assert main(["health"]) == 2
    assert "BANKMARKETING_SCORING_URI" in _one_line_error(capsys)


def test_wrong_key_is_one_clean_line_without_the_key(
    endpoint_inputs: LocalEndpoint,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    sample_records: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = "wrong-key-0123456789"
    monkeypatch.setenv("BANKMARKETING_SCORING_URI", endpoint_inputs.scoring_uri)
    monkeypatch.setenv("BANKMARKETING_API_KEY", wrong)
    path = tmp_path / "records.json"
    path.write_text(json.dumps(sample_records))
    assert main(["predict", "--json", str(path)]) == 2
    line = _one_line_error(capsys)
    assert "refused the key" in line
    assert "HTTP 401" in line
    assert wrong not in line


def test_an_unreachable_endpoint_exits_1_not_as_a_user_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BANKMARKETING_API_KEY", raising=False)
    assert main(["health", "--scoring-uri", "http://127.0.0.1:9/score", "--retries", "0"]) == 1
    assert "could not reach" in _one_line_error(capsys)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigurationError("no scoring URI"), EXIT_USER_ERROR),
        (DatasetError("the file is empty"), EXIT_USER_ERROR),
        (AuthenticationError("the endpoint refused the key", status=401), EXIT_USER_ERROR),
        (ServiceUnavailableError("could not reach h", status=None), EXIT_FAILED),
        (UnexpectedResponseError("unexpected answer", status=404), EXIT_FAILED),
        (RunStopped("stopped", ServiceUnavailableError("HTTP 503", status=503)), EXIT_FAILED),
        (RunStopped("stopped", AuthenticationError("refused", status=401)), EXIT_USER_ERROR),
    ],
)
def test_the_exit_code_table(error: BankMarketingError, code: int) -> None:
    """The endpoint's failures are not the user's: only a refused key (a setting to fix) joins the user errors,
    also when it stopped a batch run."""
    assert exit_code_for(error) == code


def test_predict_asks_for_a_deployment_and_says_which_answered(
    blue_green: LocalEndpoint, env_for: Any, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``canary`` takes no traffic: only ``--deployment`` reaches it."""
    env_for(blue_green)
    records = shared_data / "azure-samples" / "data-2020-08-udacity-starter.json"
    before = blue_green.deployment_stats()["canary"].get("by_header", 0)
    assert main(["predict", "--json", str(records), "--contract", "inputs", "--deployment", "canary"]) == 0
    assert "(deployment canary)" in capsys.readouterr().err
    assert main(["health", "--deployment", "canary"]) == 0
    assert blue_green.deployment_stats()["canary"].get("by_header", 0) == before + 1  # health is not scoring


@pytest.mark.parametrize("command", ["health", "swagger", "predict"])
def test_a_bad_deployment_name_is_one_line_exit_2(
    command: str, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = shared_data / "azure-samples" / "data-2020-08-udacity-starter.json"
    extra = ["--json", str(records), "--contract", "inputs"] if command == "predict" else []
    args = [command, *extra, "--scoring-uri", "http://127.0.0.1:9/score", "--deployment", "blue;green"]
    assert main(args) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "deployment name 'blue;green'" in err
    assert len(err.strip().splitlines()) == 1


def test_a_token_file_from_local_serve_is_a_key_file(
    token_inputs: LocalEndpoint, tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--key-file`` holding an aml_token answer (what ``local serve --token-file`` writes) authenticates."""
    token_file = tmp_path / "token.json"
    token = token_inputs.get_token()
    token_file.write_text(json.dumps(token))
    records = shared_data / "azure-samples" / "data-2020-08-udacity-starter.json"
    uri = ["--scoring-uri", token_inputs.scoring_uri, "--key-file", str(token_file)]
    assert main(["predict", "--json", str(records), *uri]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0].split("\t")[1] in ("yes", "no")
    assert token["accessToken"] not in out + err
    token_file.write_text('{"tokenType": "Bearer"}')
    assert main(["health", *uri]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert f"the token file {token_file}: the token answer holds no accessToken" in err
