"""Exactly once: a CLI run killed (SIGKILL) or interrupted (SIGINT) mid-way, then resumed, equals a clean run.

The interrupted runs go to the fault-injecting endpoint (which also adds 25 ms to every request) with batches of
10 rows, so that they last several seconds and are surely stopped part-way (checkpoints come once a second); the
clean reference goes to the fault-free endpoint. Same model, so identical bytes are expected.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bankmarketing_client.batch import score_file
from bankmarketing_client.batch.checkpoint import Checkpoint, checkpoint_path
from bankmarketing_client.batch.filerun import default_errors_path
from bankmarketing_client.batch.lock import lock_path
from bankmarketing_client.batch.writers import spool_path
from bankmarketing_client.local.endpoint import LocalEndpoint
from batch.batch_support import CLI, WriteSubset, cli_env, read_csv_rows, read_training_rows

ROWS = 2000
STOP_AFTER_ROWS = 200


def _rows_done(checkpoint: Path) -> int:
    found = Checkpoint.load(checkpoint)  # written by rename: never seen half-written
    return found.rows_done if found is not None else 0


def _start(source: Path, output: Path, endpoint: LocalEndpoint, *extra: str) -> subprocess.Popen[str]:
    argv = [*CLI, str(source), "-o", str(output), "--batch-size", "10", "--concurrency", "2", "--quiet", *extra]
    return subprocess.Popen(argv, env=cli_env(endpoint), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGINT])
def test_stopped_run_resumes_to_exactly_the_clean_output(
    stop_signal: signal.Signals,
    endpoint_inputs: LocalEndpoint,
    faulty_endpoint: LocalEndpoint,
    write_subset: WriteSubset,
    tmp_path: Path,
) -> None:
    source = write_subset(rows=ROWS, with_id=True)
    clean = tmp_path / "clean.csv"
    score_file(source, clean, scoring_uri=endpoint_inputs.scoring_uri, api_key=endpoint_inputs.primary_key)

    output = tmp_path / "resumed.csv"
    checkpoint = checkpoint_path(output)
    process = _start(source, output, faulty_endpoint)
    deadline = time.monotonic() + 120
    while _rows_done(checkpoint) < STOP_AFTER_ROWS and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be stopped: " + process.communicate()[1]
    process.send_signal(stop_signal)
    _, stderr = process.communicate(timeout=60)
    if stop_signal == signal.SIGINT:
        assert process.returncode == 130
        assert "--resume" in stderr
        assert "Traceback" not in stderr
    else:
        assert process.returncode == -signal.SIGKILL
        # The lock file stays, but the kernel released the lock with the process: it must not block the resume.
        assert lock_path(output).is_file()
    done = _rows_done(checkpoint)
    assert STOP_AFTER_ROWS <= done < ROWS
    assert not output.exists(), "a finished output must never appear before the run ends"

    resumed = _start(source, output, faulty_endpoint, "--resume")
    stdout, stderr = resumed.communicate(timeout=180)
    assert resumed.returncode == 0, stderr
    assert "resumed:" in stdout
    assert output.read_bytes() == clean.read_bytes()
    rows = read_csv_rows(output)
    assert [int(r["row"]) for r in rows] == list(range(1, ROWS + 1))
    assert not checkpoint.exists()
    assert not lock_path(output).exists()


def test_resume_refuses_a_changed_input(
    faulty_endpoint: LocalEndpoint, write_subset: WriteSubset, tmp_path: Path
) -> None:
    source = write_subset(rows=ROWS)
    output = tmp_path / "out.csv"
    process = _start(source, output, faulty_endpoint)
    deadline = time.monotonic() + 120
    while _rows_done(checkpoint_path(output)) < 100 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.kill()
    process.communicate(timeout=60)
    with source.open("a") as fh:
        fh.write(source.read_text().splitlines()[1] + "\n")
    again = _start(source, output, faulty_endpoint, "--resume")
    _, stderr = again.communicate(timeout=60)
    assert again.returncode == 2
    assert "input file changed" in stderr


@dataclass
class Interrupted:
    """A run killed part-way, as it left its folder: ``restore`` puts the spools and checkpoint back as they were."""

    source: Path
    output: Path
    left: dict[Path, bytes]

    @property
    def spool(self) -> Path:
        return spool_path(self.output)

    @property
    def checkpoint(self) -> Path:
        return checkpoint_path(self.output)

    def restore(self) -> None:
        for path, data in self.left.items():
            path.write_bytes(data)
        self.output.unlink(missing_ok=True)
        default_errors_path(self.output).unlink(missing_ok=True)

    def edit_checkpoint(self, change: Callable[[dict[str, Any]], None]) -> None:
        data = json.loads(self.checkpoint.read_text())
        change(data)
        self.checkpoint.write_text(json.dumps(data))


def _interrupt(source: Path, output: Path, endpoint: LocalEndpoint, stop_after: int = STOP_AFTER_ROWS) -> None:
    process = _start(source, output, endpoint)
    deadline = time.monotonic() + 120
    while _rows_done(checkpoint_path(output)) < stop_after and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be stopped: " + process.communicate()[1]
    process.kill()
    process.communicate(timeout=60)


@pytest.fixture(scope="module")
def interrupted(
    faulty_endpoint: LocalEndpoint, train_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Interrupted]:
    """Runs into a CSV or a Parquet output, each killed once after STOP_AFTER_ROWS rows; each test restores it."""
    made: dict[str, Interrupted] = {}

    def get(suffix: str) -> Interrupted:
        if suffix not in made:
            folder = tmp_path_factory.mktemp("interrupted")
            header, body = read_training_rows(train_path, ROWS)
            source = folder / "input.csv"
            with source.open("w", newline="", encoding="utf-8") as fh:
                csv.writer(fh, lineterminator="\n").writerows([header, *body])
            output = folder / f"out{suffix}"
            _interrupt(source, output, faulty_endpoint)
            left = [spool_path(output), spool_path(default_errors_path(output)), checkpoint_path(output)]
            made[suffix] = Interrupted(source, output, {path: path.read_bytes() for path in left})
        found = made[suffix]
        found.restore()
        return found

    return get


def _refused(run: Interrupted, endpoint: LocalEndpoint, *words: str) -> str:
    """``--resume`` exits 2 with one line saying how to start over, and changes nothing. ``endpoint``: the fault-free
    one, whose answers log no retries."""
    before = {path: path.read_bytes() for path in run.left}
    again = _start(run.source, run.output, endpoint, "--resume")
    _, stderr = again.communicate(timeout=120)
    lines = stderr.strip().splitlines()
    assert again.returncode == 2, stderr
    assert len(lines) == 1, stderr
    assert "without --resume" in lines[0]
    for word in words:
        assert word in lines[0]
    assert not run.output.exists()
    assert {path: path.read_bytes() for path in run.left} == before, "a refused resume must change nothing"
    return lines[0]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_truncated_spool_is_refused(
    suffix: str, interrupted: Callable[[str], Interrupted], endpoint_inputs: LocalEndpoint
) -> None:
    """Before: the spool was extended with NUL bytes back to the checkpoint's length (CSV: exit 0 and a wrong file;
    Parquet: an ArrowInvalid traceback after every row was scored)."""
    run = interrupted(suffix)
    data = run.spool.read_bytes()
    run.spool.write_bytes(data[: len(data) // 2])
    _refused(run, endpoint_inputs, "partial output", "shorter")


def test_a_spool_changed_in_its_committed_part_is_refused(
    interrupted: Callable[[str], Interrupted], endpoint_inputs: LocalEndpoint
) -> None:
    run = interrupted(".csv")
    data = bytearray(run.spool.read_bytes())
    at = data.index(b"no", len(data) // 3)  # a prediction, in the part the checkpoint vouches for
    data[at : at + 2] = b"ye"
    run.spool.write_bytes(bytes(data))
    _refused(run, endpoint_inputs, "partial output", "changed")


def _raise_rows(data: dict[str, Any]) -> None:
    counts = data["written"]["counts"]
    counts["rows"] += 50
    counts["scored"] += 50


def _lower_bytes(data: dict[str, Any]) -> None:
    data["written"]["output_bytes"] -= 10


def _text_bytes(data: dict[str, Any]) -> None:
    data["written"]["output_bytes"] = str(data["written"]["output_bytes"])


def _negative_rows(data: dict[str, Any]) -> None:
    data["written"]["counts"]["rows"] = -5


def _float_retries(data: dict[str, Any]) -> None:
    data["retries"] = 1.5


@pytest.mark.parametrize(
    "change",
    [_raise_rows, _lower_bytes, _text_bytes, _negative_rows, _float_retries],
    ids=["raised-rows", "lowered-bytes", "text-bytes", "negative-rows", "float-retries"],
)
def test_an_edited_checkpoint_is_refused_and_blamed(
    change: Callable[[dict[str, Any]], None], interrupted: Callable[[str], Interrupted], endpoint_inputs: LocalEndpoint
) -> None:
    """Before: raised rows lost rows and lowered bytes merged two rows (both exit 0), a text byte count was a
    TypeError traceback, and a negative row count was blamed on the input ("not a valid CSV file")."""
    run = interrupted(".csv")
    run.edit_checkpoint(change)
    line = _refused(run, endpoint_inputs, "checkpoint")
    assert "CSV" not in line


def test_a_checkpoint_of_the_earlier_format_is_refused_in_one_line(
    interrupted: Callable[[str], Interrupted], endpoint_inputs: LocalEndpoint
) -> None:
    """A checkpoint from before the spools' and the input's digests were recorded cannot be verified."""

    def older(data: dict[str, Any]) -> None:
        data["version"] = 2
        data.pop("consumed", None)
        for name in ("output_sha256", "errors_sha256"):
            data["written"].pop(name, None)

    run = interrupted(".csv")
    run.edit_checkpoint(older)
    _refused(run, endpoint_inputs, "another version")


def test_resume_refuses_an_input_row_edited_in_the_middle_with_size_and_mtime_kept(
    faulty_endpoint: LocalEndpoint, write_subset: WriteSubset, tmp_path: Path
) -> None:
    """The row edited is past the first 64 KiB and before the last: outside what size, mtime and the head and tail
    digests see, but inside the part of the input the interrupted run had consumed."""
    source = write_subset(rows=20_000)
    output = tmp_path / "out.csv"
    _interrupt(source, output, faulty_endpoint, stop_after=1000)
    stat = source.stat()
    data = bytearray(source.read_bytes())
    line_start = [i + 1 for i, byte in enumerate(data) if byte == ord("\n")][600]  # data row 601
    assert 1 << 16 < line_start < len(data) - (1 << 16)
    age = bytes(data[line_start : line_start + 2])
    assert age.isdigit()
    data[line_start : line_start + 2] = b"77" if age != b"77" else b"78"
    source.write_bytes(bytes(data))
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (source.stat().st_size, source.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    again = _start(source, output, faulty_endpoint, "--resume")
    _, stderr = again.communicate(timeout=120)
    assert again.returncode == 2, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "input file changed" in stderr
    assert "without --resume" in stderr
    assert not output.exists()
