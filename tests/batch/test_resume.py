"""Exactly once: a CLI run killed (SIGKILL) or interrupted (SIGINT) mid-way, then resumed, equals a clean run.

The interrupted runs go to the fault-injecting endpoint (which also adds 25 ms to every request) with batches of
10 rows, so that they last several seconds and are surely stopped part-way (checkpoints come once a second); the
clean reference goes to the fault-free endpoint. Same model, so identical bytes are expected.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from bankmarketing_client.batch import score_file
from bankmarketing_client.batch.checkpoint import Checkpoint, checkpoint_path
from bankmarketing_client.batch.lock import lock_path
from bankmarketing_client.local.endpoint import LocalEndpoint
from batch.batch_support import CLI, WriteSubset, cli_env, read_csv_rows

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
