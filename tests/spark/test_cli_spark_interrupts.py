"""SIGTERM in every phase of ``score --engine spark``: exit 130, one line, and a state the line's next step works
from. Real Spark (a CLI process with its own JVM) against the real local endpoint, made slow so that the write is
long enough to be interrupted in the middle.

JVM starts are expensive, so each phase is one CLI run that the test seam (``PAUSE_ENV``) stops at that phase:
it creates a file when the run gets there (and, where the phase is over in an instant, waits), and the test then
sends SIGTERM. Only two runs follow up: the clean re-run after an interrupted write, and the ``--resume`` that
finishes a run stopped after its output was committed. The other next steps need no JVM to check.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from batch.batch_support import cli_env

from bankmarketing_client.cli.spark_engine import PAUSE_ENV, SUCCESS_MARKER, record_path
from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.local.faults import FaultSpec
from bankmarketing_client.local.pytest_plugin import EndpointFactory

ROWS = 1200
BAD_ROWS = 2
#: One task slot and two requests in flight, 40 rows a request at 600 ms each: about 9 s of writing.
ARGS = ["--engine", "spark", "--master", "local[1]", "--concurrency", "2", "--batch-size", "40"]
#: The phases' last lines, for the tests that check them.
NOT_KEPT = "before the output was committed: nothing was kept; run the same command again"
KEPT = "after every row was scored"


@pytest.fixture(scope="module")
def slow_endpoint(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    return bankmarketing_endpoint_factory(contract="inputs", faults=FaultSpec(latency_ms=600))


@pytest.fixture(scope="module")
def source(train_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ROWS training rows with ids, two of them with a category the codec refuses (so there is an errors folder)."""
    table = pacsv.read_csv(train_path).slice(0, ROWS).drop_columns(["y"])
    records = table.add_column(0, "id", pa.array([f"C{i:05d}" for i in range(1, ROWS + 1)])).to_pylist()
    for row in range(BAD_ROWS):
        records[row * 500]["job"] = "astronaut"
    path = tmp_path_factory.mktemp("spark-interrupts") / "input.parquet"
    pq.write_table(pa.Table.from_pylist(records), path)
    return path


def _command(source: Path, output: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bankmarketing_client.cli", "score", str(source), "-o", str(output), *ARGS, *extra]


def _run(command: list[str], endpoint: LocalEndpoint) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=cli_env(endpoint), capture_output=True, text=True, timeout=300, check=False)


def _stopped_at(phase: str, command: list[str], endpoint: LocalEndpoint, marker: Path) -> tuple[int, str, str]:
    """Run ``command`` until the seam marks ``phase``, SIGTERM it, and return its exit code, stdout and stderr."""
    env = {**cli_env(endpoint), PAUSE_ENV: f"{phase}={marker}"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), f"the run never reached {phase}: {proc.poll()} {proc.communicate()[1][-2000:]}"
        if phase == "writing":
            time.sleep(0.3)  # inside the write: its tasks run, and a request takes 600 ms, so none has finished
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out, err


def _one_line(err: str) -> str:
    """The run's one line; Java 17's own notice (printed before any Spark code runs, see docs/spark.md) aside."""
    lines = [line for line in err.strip().splitlines() if not line.startswith("WARNING: Using incubator")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _left_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


#: Known defect, not yet mended: the main thread waits inside py4j's socket call, so a SIGTERM the kernel hands to
#: another thread is acted on only when the call returns; mid-write it can then land after the commit, or in the
#: finishing phase's first Spark call with a traceback. Marked so the suite reports it on every run (XFAIL/XPASS)
#: instead of hiding it; the fix is to wait for the write from the main thread in Python.
MID_WRITE_RACE = pytest.mark.xfail(reason="SIGTERM mid-write can be handled only after the write job returns")


@pytest.mark.parametrize("phase", ["starting", "reading", pytest.param("writing", marks=MID_WRITE_RACE)])
def test_sigterm_before_the_commit_is_130_one_line_and_leaves_nothing(
    phase: str, source: Path, slow_endpoint: LocalEndpoint, tmp_path: Path
) -> None:
    output = tmp_path / "scored.parquet"
    command = _command(source, output)
    code, out, err = _stopped_at(phase, command, slow_endpoint, tmp_path / "marker")
    assert code == 130, err
    assert _one_line(err) == f"bankmarketing-client: interrupted while {phase}, {NOT_KEPT}"
    assert "rows:" not in out
    assert _left_in(tmp_path) == ["marker"]  # no output, errors folder, run record, lock or temporary file
    if phase == "writing":  # the documented next step, from the state a stopped write leaves
        again = _run(command, slow_endpoint)
        assert again.returncode == 1, again.stderr  # two rows rejected
        assert f"rows:      {ROWS:,} ({ROWS - BAD_ROWS:,} scored, {BAD_ROWS} rejected, 0 failed)" in again.stdout
        assert pq.read_table(output).num_rows == ROWS
        assert _left_in(tmp_path) == ["marker", "scored.errors.csv", "scored.parquet"]


def test_sigterm_after_the_commit_keeps_the_output_for_resume(
    source: Path, slow_endpoint: LocalEndpoint, tmp_path: Path
) -> None:
    """Before, this exited 143 with no summary and no errors folder, and every re-run was refused because the
    output existed. Now: 130, the complete output kept, and ``--resume`` finishes it without scoring again."""
    output = tmp_path / "scored.parquet"
    command = _command(source, output)
    code, out, err = _stopped_at("finishing", command, slow_endpoint, tmp_path / "marker")
    assert code == 130, err
    line = _one_line(err)
    assert line.startswith(f"bankmarketing-client: interrupted while finishing, {KEPT}: {output} is complete")
    assert line.endswith("run the same command with --resume to finish them without scoring again")
    assert "rows:" not in out
    assert (output / SUCCESS_MARKER).exists()
    assert pq.read_table(output).num_rows == ROWS
    assert record_path(str(output)).exists()
    assert not (tmp_path / "scored.errors.csv").exists()

    again = _run(command, slow_endpoint)  # without --resume: refused before any JVM, naming the way on
    assert again.returncode == 2
    assert "add --resume" in _one_line(again.stderr)

    requests_before = slow_endpoint.stats()["requests"]
    resumed = _run([*command, "--resume"], slow_endpoint)
    assert resumed.returncode == 1, resumed.stderr  # the two rejected rows
    assert f"rows:      {ROWS:,} ({ROWS - BAD_ROWS:,} scored, {BAD_ROWS} rejected, 0 failed)" in resumed.stdout
    assert slow_endpoint.stats()["requests"] == requests_before  # nothing scored again
    parts = sorted((tmp_path / "scored.errors.csv").glob("part-*.csv"))
    ids = [row_id for part in parts for row_id in pacsv.read_csv(part)["id"].to_pylist()]
    assert sorted(ids) == ["C00001", "C00501"]
    assert not record_path(str(output)).exists()
    assert _left_in(tmp_path) == ["marker", "scored.errors.csv", "scored.parquet"]

    finished = _run([*command, "--resume"], slow_endpoint)  # nothing left to finish
    assert finished.returncode == 2
    assert "there is nothing to resume" in _one_line(finished.stderr)


def test_a_run_that_fails_before_the_commit_leaves_no_run_record(slow_endpoint: LocalEndpoint, tmp_path: Path) -> None:
    """The record is written before the JVM starts; an input Spark cannot read (a folder without Parquet files)
    ends the run after that, and must not leave the record behind for a later ``--resume`` to trip on."""
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not parquet\n")
    done = _run(_command(empty, tmp_path / "scored.parquet"), slow_endpoint)
    assert done.returncode == 2, done.stderr
    assert "cannot read it as Parquet" in _one_line(done.stderr)
    assert _left_in(tmp_path) == ["empty"]
