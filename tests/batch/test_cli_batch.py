"""``bankmarketing-client score``: exit codes, the summary, and clean one-line messages for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bankmarketing_client.cli import main
from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.local.pytest_plugin import EndpointFactory
from batch.batch_support import WriteSubset, files_under, read_csv_rows


def test_clean_file_exits_0_and_prints_the_summary(
    scoring_env: LocalEndpoint, write_subset: WriteSubset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "scored.parquet"
    assert main(["score", str(write_subset(rows=90)), "-o", str(output), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "90 scored, 0 rejected, 0 failed" in out
    assert "rows/s" in out
    assert "retries:" in out
    assert output.is_file()
    assert scoring_env.primary_key not in out


def test_rejected_rows_exit_1_with_an_errors_file(
    scoring_env: LocalEndpoint, write_subset: WriteSubset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_subset(rows=30)
    lines = source.read_text().splitlines()
    lines[4] = lines[4].replace("married", "wed", 1)
    source.write_text("\n".join(lines) + "\n")
    errors = tmp_path / "errors.csv"
    assert main(["score", str(source), "-o", str(tmp_path / "o.csv"), "--errors", str(errors)]) == 1
    assert [(r["row"], r["field"]) for r in read_csv_rows(errors)] == [("4", "marital")]
    assert "1 rejected" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("HEADER", "header but no data rows"),
        ("DROP duration", "missing column(s) duration"),
        ("TABS", "cannot split the header"),
    ],
)
def test_bad_files_give_one_clear_line(
    write_subset: WriteSubset, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    lines = write_subset(rows=3).read_text().splitlines()
    if content == "HEADER":
        text = lines[0] + "\n"
    elif content == "TABS":
        text = "\n".join(line.replace(",", "\t") for line in lines) + "\n"
    elif content.startswith("DROP"):
        index = lines[0].split(",").index("duration")
        text = "\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != index) for line in lines) + "\n"
    else:
        text = content
    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    code = main(["score", str(bad), "-o", str(tmp_path / "o.csv"), "--scoring-uri", "http://127.0.0.1:9/score"])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_refused_key_stops_cleanly_and_keeps_the_progress(
    endpoint_inputs: LocalEndpoint,
    write_subset: WriteSubset,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BANKMARKETING_SCORING_URI", endpoint_inputs.scoring_uri)
    monkeypatch.setenv("BANKMARKETING_API_KEY", "not-the-key")
    output = tmp_path / "o.csv"
    assert main(["score", str(write_subset(rows=20)), "-o", str(output)]) == 2
    err = capsys.readouterr().err
    assert "refused the key" in err
    assert "--resume" in err
    assert "not-the-key" not in err
    assert not output.exists()


def test_a_key_file_that_is_not_text_is_one_clean_line(
    write_subset: WriteSubset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The key file is read by the shared reader (cli.keys), so a binary file is a message, not a traceback."""
    key_file = tmp_path / "key.bin"
    key_file.write_bytes(b"\xff\xfe\x00secret")
    args = ["score", str(write_subset(rows=3)), "-o", str(tmp_path / "o.csv"), "--key-file", str(key_file)]
    code = main([*args, "--scoring-uri", "http://127.0.0.1:9/score"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"cannot read the key file {key_file}" in err
    assert "Traceback" not in err
    assert "secret" not in err


def test_a_bad_input_file_found_mid_run_does_not_suggest_resume(
    scoring_env: LocalEndpoint, write_subset: WriteSubset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--resume would meet the same bytes again: the message must name the file, not offer a resume."""
    source = write_subset(rows=3000)
    data = source.read_bytes().splitlines(keepends=True)
    data[2500] = data[2500].replace(b"technician", b"tech\xffnician", 1)  # not UTF-8: Arrow stops there
    source.write_bytes(b"".join(data))
    code = main(["score", str(source), "-o", str(tmp_path / "o.csv"), "--batch-size", "500"])
    err = capsys.readouterr().err
    assert code == 2
    assert str(source) in err
    assert "row 2500" in err  # the data row, as numbered in the errors file (Arrow counts the header too)
    assert "--resume" not in err
    assert "Traceback" not in err
    assert files_under(tmp_path) == {source}, "a run that cannot be resumed must leave no spool or checkpoint"


def test_an_endpoint_failure_exits_1_keeps_the_progress_and_resumes(
    scoring_env: LocalEndpoint, write_subset: WriteSubset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An endpoint error no retry gets past stops the run with its progress saved; it is not a user error (2).

    A scoring URI whose path the endpoint does not serve is the real server's answer (404) that is neither
    transient nor a refused key; the same command on the right URI with --resume then finishes the file.
    """
    source = write_subset(rows=40)
    output = tmp_path / "o.csv"
    wrong = scoring_env.scoring_uri.rsplit("/", 1)[0] + "/nothere"
    assert main(["score", str(source), "-o", str(output), "--scoring-uri", wrong, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "HTTP 404" in err
    assert "--resume" in err
    assert "Traceback" not in err
    assert scoring_env.primary_key not in err
    assert not output.exists()
    assert main(["score", str(source), "-o", str(output), "--quiet", "--resume"]) == 0
    assert [row["row"] for row in read_csv_rows(output)] == [str(n) for n in range(1, 41)]


def test_a_run_scores_against_the_deployment_it_names_with_a_token_file(
    bankmarketing_endpoint_factory: EndpointFactory,
    write_subset: WriteSubset,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An aml_token endpoint whose ``canary`` takes no traffic: ``--deployment canary`` sends every chunk there,
    and ``--key-file`` holds the token answer ``local serve --token-file`` writes."""
    endpoint = bankmarketing_endpoint_factory(
        contract="inputs",
        auth_mode="aml_token",
        deployments=["blue", "canary"],
        traffic={"blue": 100, "canary": 0},
        worker_count=1,
    )
    token_file = tmp_path / "token.json"
    token_file.write_text(json.dumps(endpoint.get_token()))
    output = tmp_path / "scored.csv"
    args = ["score", str(write_subset(rows=120)), "-o", str(output), "--batch-size", "40", "--quiet"]
    args += ["--scoring-uri", endpoint.scoring_uri, "--key-file", str(token_file), "--deployment", "canary"]
    before = endpoint.deployment_stats()
    assert main(args) == 0
    assert "120 scored" in capsys.readouterr().out
    after = endpoint.deployment_stats()
    assert after["canary"].get("by_header", 0) - before["canary"].get("by_header", 0) >= 3
    assert after["blue"].get("requests", 0) == before["blue"].get("requests", 0)
    assert len(read_csv_rows(output)) == 120


def test_the_deployment_column_is_refused_with_the_spark_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Spark engine writes no such column: asking for it is one line and exit 2, not a column silently missing."""
    source = tmp_path / "in.parquet"
    source.write_bytes(b"")
    args = ["score", str(source), "-o", str(tmp_path / "out.parquet"), "--engine", "spark", "--deployment-column"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "bankmarketing-client: error: --deployment-column does not work with --engine spark yet; drop it"
    )
    assert files_under(tmp_path) == {source}
