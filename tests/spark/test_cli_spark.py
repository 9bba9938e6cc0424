"""``score --engine spark``: real Spark (a CLI process with its own JVM) against the real local endpoint.

The Spark runs are CLI subprocesses, so what they print (the JVM's console included) is exactly what a user sees;
each starts a JVM, so they are few and share their inputs. Refusals that need no JVM run in-process.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from batch.batch_support import cli_env

from bankmarketing_client.batch.lock import output_lock
from bankmarketing_client.cli import main
from bankmarketing_client.cli.spark_engine import job_failure
from bankmarketing_client.local.endpoint import LocalEndpoint

ROWS = 3000
#: Two rows the codec refuses (row number -> field, value), so the errors output and the counters are exercised.
BAD_CELLS = {7: ("marital", "wed"), 1500: ("job", "astronaut")}
SPARK_ARGS = ["--engine", "spark", "--master", "local[2]", "--concurrency", "4"]
#: For the runs that do not test the budget's split: one task slot, so one Python worker to start.
ONE_SLOT_ARGS = ["--engine", "spark", "--master", "local[1]", "--concurrency", "2"]


def _training_table(train_path: Path, rows: int) -> pa.Table:
    """The first ``rows`` training rows, typed as Arrow reads them, with an ``id`` column first."""
    table = pacsv.read_csv(train_path).slice(0, rows)
    return table.add_column(0, "id", pa.array([f"C{i:06d}" for i in range(1, rows + 1)]))


def _with_bad_cells(table: pa.Table) -> pa.Table:
    records = table.to_pylist()
    for row, (field, value) in BAD_CELLS.items():
        records[row - 1][field] = value
    return pa.Table.from_pylist(records, schema=table.schema)


def _run_cli(argv: list[str], endpoint: LocalEndpoint, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**cli_env(endpoint), **env}
    command = [sys.executable, "-m", "bankmarketing_client.cli", "score", *argv]
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=280)


def _scores(table: pa.Table) -> dict[str, tuple[str | None, float | None]]:
    ids, labels, probabilities = (table[c].to_pylist() for c in ("id", "prediction", "probability"))
    return {i: (label, p) for i, label, p in zip(ids, labels, probabilities, strict=True)}


def _rows_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("rows:"))


def _assert_quiet(done: subprocess.CompletedProcess[str], endpoint: LocalEndpoint) -> None:
    """No secret, no traceback, no Spark log line, in anything the run printed."""
    for stream in (done.stdout, done.stderr):
        assert endpoint.primary_key not in stream
        assert "Traceback" not in stream
        assert "spark INFO" not in stream
        assert "spark WARN" not in stream
        assert "spark ERROR" not in stream


@pytest.fixture(scope="module")
def scored_both_ways(
    endpoint_inputs: LocalEndpoint, train_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, object]:
    """The same Parquet scored by the single-process scorer (in-process) and by ``--engine spark`` (a CLI process)."""
    folder = tmp_path_factory.mktemp("spark-cli")
    source = folder / "input.parquet"
    pq.write_table(_with_bad_cells(_training_table(train_path, ROWS)), source)
    reference = folder / "reference.parquet"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BANKMARKETING_SCORING_URI", endpoint_inputs.scoring_uri)
        patch.setenv("BANKMARKETING_API_KEY", endpoint_inputs.primary_key)
        reference_code = main(["score", str(source), "-o", str(reference), "--quiet"])
    spark_output = folder / "spark.parquet"
    done = _run_cli([str(source), "-o", str(spark_output), *SPARK_ARGS], endpoint_inputs)
    return {
        "reference_code": reference_code,
        "reference": reference,
        "reference_errors": folder / "reference.errors.csv",
        "spark": done,
        "spark_output": spark_output,
        "spark_errors": folder / "spark.errors.csv",
    }


def test_spark_output_equals_the_single_process_output(scored_both_ways: dict[str, object]) -> None:
    done = scored_both_ways["spark"]
    assert isinstance(done, subprocess.CompletedProcess)
    output = scored_both_ways["spark_output"]
    assert isinstance(output, Path)
    assert (output / "_SUCCESS").is_file(), done.stderr
    spark = pq.read_table(output)
    reference = pq.read_table(scored_both_ways["reference"])
    assert spark.num_rows == reference.num_rows == ROWS
    assert _scores(spark) == _scores(reference)
    assert spark.column_names == ["id", "prediction", "probability", "error"]


def test_same_exit_code_and_counters_as_the_single_process_scorer(
    scored_both_ways: dict[str, object], endpoint_inputs: LocalEndpoint
) -> None:
    done = scored_both_ways["spark"]
    assert isinstance(done, subprocess.CompletedProcess)
    assert done.returncode == scored_both_ways["reference_code"] == 1, done.stderr
    scored, rejected = ROWS - len(BAD_CELLS), len(BAD_CELLS)
    assert (
        _rows_line(done.stdout).split(":", 1)[1].strip()
        == f"{ROWS:,} ({scored:,} scored, {rejected} rejected, 0 failed)"
    )
    assert "rows/s" in done.stdout
    assert "concurrency 4 (2 per task x 2 slots)" in done.stdout
    assert f"errors:    {scored_both_ways['spark_errors']}" in done.stdout
    _assert_quiet(done, endpoint_inputs)


def test_errors_output_names_each_refused_row_with_the_single_process_words(
    scored_both_ways: dict[str, object],
) -> None:
    errors = scored_both_ways["spark_errors"]
    assert isinstance(errors, Path)
    listed = []
    for part in sorted(errors.glob("part-*.csv")):
        with part.open(newline="", encoding="utf-8") as fh:
            listed += [(row["id"], row["error"]) for row in csv.DictReader(fh)]
    with Path(str(scored_both_ways["reference_errors"])).open(newline="", encoding="utf-8") as fh:
        expected = [(f"C{int(r['row']):06d}", f"{r['field']}: {r['reason']}") for r in csv.DictReader(fh)]
    assert sorted(listed) == sorted(expected)
    assert {row for row, _ in expected} == {f"C{row:06d}" for row in BAD_CELLS}


def test_a_clean_folder_without_ids_exits_0_and_keeps_every_column(
    endpoint_inputs: LocalEndpoint, train_path: Path, tmp_path: Path
) -> None:
    table = _training_table(train_path, 400).drop_columns(["id"])
    source = tmp_path / "lake"
    source.mkdir()
    pq.write_table(table.slice(0, 150), source / "part-0.parquet")
    pq.write_table(table.slice(150), source / "part-1.parquet")
    output = tmp_path / "scored"
    done = _run_cli([str(source), "-o", str(output), *ONE_SLOT_ARGS, "--no-proba"], endpoint_inputs)
    assert done.returncode == 0, done.stderr
    assert "400 (400 scored, 0 rejected, 0 failed)" in _rows_line(done.stdout)
    written = pq.read_table(output)
    assert written.column_names == [*table.column_names, "prediction", "error"]
    assert written.num_rows == 400
    assert written["error"].null_count == 400
    assert set(written["prediction"].to_pylist()) <= {"yes", "no"}
    assert not (tmp_path / "scored.errors.csv").exists()
    _assert_quiet(done, endpoint_inputs)
    # Nothing on stderr but the JVM's own notice (printed by Java 17 before any Spark code runs).
    assert [line for line in done.stderr.splitlines() if not line.startswith("WARNING: Using incubator")] == []


def test_a_refused_key_exits_2_in_one_line_without_the_key(
    endpoint_inputs: LocalEndpoint, train_path: Path, tmp_path: Path
) -> None:
    source = tmp_path / "input.parquet"
    pq.write_table(_training_table(train_path, 50), source)
    wrong = "not-the-key-" + endpoint_inputs.primary_key[::-1]
    output = tmp_path / "scored.parquet"
    done = _run_cli([str(source), "-o", str(output), *ONE_SLOT_ARGS], endpoint_inputs, BANKMARKETING_API_KEY=wrong)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = [line for line in done.stderr.splitlines() if line.startswith("bankmarketing-client")]
    assert len(lines) == 1, done.stderr
    assert "401" in lines[0]
    assert wrong not in done.stderr
    assert not output.exists()  # what the failed job left is removed: the same command can run again
    _assert_quiet(done, endpoint_inputs)


@pytest.fixture
def parquet_input(train_path: Path, tmp_path: Path) -> Path:
    source = tmp_path / "input.parquet"
    pq.write_table(_training_table(train_path, 5), source)
    return source


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--resume"], "there is nothing to resume at "),
        (["--fail-fast"], "--fail-fast does not work with --engine spark"),
        (["--delimiter", ";"], "--delimiter does not work with --engine spark"),
    ],
)
def test_options_spark_lacks_are_refused_in_one_line(
    parquet_input: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    code = main(["score", str(parquet_input), "-o", str(tmp_path / "o.parquet"), "--engine", "spark", *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_master_without_the_spark_engine_is_refused(
    parquet_input: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["score", str(parquet_input), "-o", str(tmp_path / "o.csv"), "--master", "local[2]"]) == 2
    assert "--master is for --engine spark" in capsys.readouterr().err


def test_csv_input_or_output_an_existing_output_and_a_missing_input_are_refused(
    parquet_input: Path, train_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "done.parquet"
    existing.mkdir()
    cases = [
        ([str(train_path), "-o", str(tmp_path / "a.parquet")], "reads Parquet"),
        ([str(parquet_input), "-o", str(existing)], f"the output {existing} exists"),
        ([str(parquet_input), "-o", str(tmp_path / "scored.csv")], "writes a folder of Parquet files"),
        ([str(tmp_path / "nowhere.parquet"), "-o", str(tmp_path / "b.parquet")], "no such file or folder"),
    ]
    for argv, message in cases:
        assert main(["score", *argv, "--engine", "spark"]) == 2
        err = capsys.readouterr().err
        assert message in err
        assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done.parquet", "input.parquet"]  # nothing made


@pytest.mark.parametrize("held", ["output", "errors"])
def test_a_second_run_on_a_locked_output_exits_2_naming_the_first(
    parquet_input: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], held: str
) -> None:
    """A run in progress holds its output's and errors folder's locks (the real flock the single-process scorer
    takes too; held here by this process). A second run used to pass the existence check as well, and when Spark
    then refused its write it removed the first run's unfinished folder."""
    output = tmp_path / "scored.parquet"
    with output_lock(output if held == "output" else tmp_path / "scored.errors.csv"):
        code = main(["score", str(parquet_input), "-o", str(output), "--engine", "spark"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"pid {os.getpid()}" in err  # names the run that holds it
    assert len(err.strip().splitlines()) == 1
    assert not output.exists()


def test_missing_java_says_how_to_install_it(
    parquet_input: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))  # a JAVA_HOME without bin/java: what a broken install looks like
    assert main(["score", str(parquet_input), "-o", str(tmp_path / "o.parquet"), "--engine", "spark"]) == 2
    err = capsys.readouterr().err
    assert "needs a Java 17+ runtime" in err
    assert "apt-get install default-jre-headless" in err


def test_missing_pyspark_says_how_to_install_it(
    parquet_input: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # pyspark is installed in this venv and cannot be uninstalled for one test: a None entry in sys.modules is
    # how Python itself marks a module as unimportable, and importlib's find_spec honours it.
    monkeypatch.setitem(sys.modules, "pyspark", None)
    assert main(["score", str(parquet_input), "-o", str(tmp_path / "o.parquet"), "--engine", "spark"]) == 2
    assert "pip install 'bankmarketing-client[spark]'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("message", "line", "code"),
    [
        (
            'An exception was thrown from the Python worker.\nTraceback (most recent call last):\n  File "x.py"\n'
            "bankmarketing_client.errors.AuthenticationError: HTTP 401: the key was refused",
            "bankmarketing_client.errors.AuthenticationError: HTTP 401: the key was refused",
            2,
        ),
        (
            "Traceback (most recent call last):\nbankmarketing_client.errors.ServiceUnavailableError: HTTP 503",
            "bankmarketing_client.errors.ServiceUnavailableError: HTTP 503",
            1,
        ),
        ("Job aborted due to stage failure\n\tat org.apache.spark.Foo", "Job aborted due to stage failure", 1),
    ],
)
def test_a_failed_job_is_one_line_and_its_exit_code(message: str, line: str, code: int) -> None:
    assert job_failure(RuntimeError(message)) == (line, code)
