"""Faults: the whole training file through injected endpoint faults, every row once, predictions identical to a
fault-free run; and a disk that fills up (a real, small tmpfs), mid-run or while converting to Parquet: one line,
exit 3, nothing stray, and ``--resume`` after freeing space gives exactly the fault-free output."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bankmarketing_client.batch import score_file
from bankmarketing_client.batch.checkpoint import Checkpoint, checkpoint_path
from bankmarketing_client.batch.filerun import default_errors_path
from bankmarketing_client.batch.writers import spool_path
from bankmarketing_client.cli.exits import EXIT_NO_SPACE
from bankmarketing_client.local.endpoint import LocalEndpoint
from batch.batch_support import CLI, cli_env


def test_training_file_through_faults_matches_a_clean_run(
    endpoint_inputs: LocalEndpoint, faulty_endpoint: LocalEndpoint, train_path: Path, tmp_path: Path
) -> None:
    clean = tmp_path / "clean.csv"
    faulty = tmp_path / "faulty.csv"
    reference = score_file(
        train_path, clean, scoring_uri=endpoint_inputs.scoring_uri, api_key=endpoint_inputs.primary_key
    )
    before = faulty_endpoint.stats()
    summary = score_file(
        train_path, faulty, scoring_uri=faulty_endpoint.scoring_uri, api_key=faulty_endpoint.primary_key
    )
    after = faulty_endpoint.stats()
    assert reference.rows == summary.rows == 32950
    assert summary.ok
    assert faulty.read_bytes() == clean.read_bytes()
    injected = {kind: after.get(kind, 0) - before.get(kind, 0) for kind in ("fault_503", "fault_reset", "fault_429")}
    assert all(count > 0 for count in injected.values()), injected
    assert summary.retries >= sum(injected.values())


@pytest.fixture(scope="module")
def clean_outputs(
    endpoint_inputs: LocalEndpoint, train_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The training file scored on an ordinary disk, into CSV and into Parquet: what a run on a full disk must
    end up with once it is resumed."""
    folder = tmp_path_factory.mktemp("clean")
    found = {}
    for suffix in (".csv", ".parquet"):
        found[suffix] = folder / f"clean{suffix}"
        score_file(
            train_path, found[suffix], scoring_uri=endpoint_inputs.scoring_uri, api_key=endpoint_inputs.primary_key
        )
    return found


class SmallDisk:
    """A tmpfs of a given size mounted on a fresh folder (root only), grown with :meth:`grow`, unmounted at the end."""

    def __init__(self, folder: Path, size: int) -> None:
        self.folder = folder
        folder.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs to fill (needs root and mount(8)): {done.stderr.strip()}")

    def grow(self, size: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(self.folder)], check=True)

    def unmount(self) -> None:
        if subprocess.run(["umount", str(self.folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(self.folder)], check=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[int], SmallDisk]]:
    mounted: list[SmallDisk] = []

    def mount(size: int) -> SmallDisk:
        mounted.append(SmallDisk(tmp_path / f"disk{len(mounted)}", size))
        return mounted[-1]

    yield mount
    for disk in mounted:
        disk.unmount()


def _score(train_path: Path, output: Path, endpoint: LocalEndpoint, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [*CLI, str(train_path), "-o", str(output), "--quiet", *extra]
    return subprocess.run(argv, env=cli_env(endpoint), capture_output=True, text=True, timeout=300)


def _ran_out_of_space(done: subprocess.CompletedProcess[str], output: Path) -> None:
    """Exit 3 and one line saying what to do; beside the output only what ``--resume`` needs, nothing stray."""
    lines = done.stderr.strip().splitlines()
    assert done.returncode == EXIT_NO_SPACE, done.stderr
    assert len(lines) == 1, done.stderr
    assert "no space left on device writing" in lines[0]
    assert "free space and continue with --resume" in lines[0]
    assert {p.name for p in output.parent.iterdir()} == {
        spool_path(output).name,
        spool_path(default_errors_path(output)).name,
        checkpoint_path(output).name,
    }


def test_a_disk_full_mid_run_is_one_line_and_resumes_exactly(
    endpoint_inputs: LocalEndpoint,
    train_path: Path,
    clean_outputs: dict[str, Path],
    small_disk: Callable[[int], SmallDisk],
) -> None:
    """The spool (about 1 MB for the training file) fills a 256 KiB disk part-way. Before: a 53-line chained
    OSError traceback and a 0-byte checkpoint staging file left behind."""
    disk = small_disk(256 << 10)
    output = disk.folder / "out.csv"
    # Small requests, one at a time, so that the disk fills seconds in, after checkpoints (one a second): the
    # resume then continues from the middle. The predictions do not depend on the batch size.
    slow = ("--batch-size", "20", "--concurrency", "1")
    _ran_out_of_space(_score(train_path, output, endpoint_inputs, *slow), output)
    assert 0 < Checkpoint.load(checkpoint_path(output)).rows_done < 32950  # type: ignore[union-attr]
    disk.grow(64 << 20)
    resumed = _score(train_path, output, endpoint_inputs, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed:" in resumed.stdout
    assert output.read_bytes() == clean_outputs[".csv"].read_bytes()
    assert {p.name for p in disk.folder.iterdir()} == {"out.csv"}


def test_a_disk_full_converting_to_parquet_is_one_line_and_resumes_exactly(
    endpoint_inputs: LocalEndpoint,
    train_path: Path,
    clean_outputs: dict[str, Path],
    small_disk: Callable[[int], SmallDisk],
) -> None:
    """Room for the spool (as big as the CSV output) and the small files, and for half of the Parquet file: every
    row is scored, then the conversion runs out. Before: a traceback and a hidden ``.out.parquet.staging`` left."""
    page = 4096
    spool = clean_outputs[".csv"].stat().st_size
    parquet = clean_outputs[".parquet"].stat().st_size
    size = -(-(spool + parquet // 2) // page) * page + 4 * page
    disk = small_disk(size)
    output = disk.folder / "out.parquet"
    _ran_out_of_space(_score(train_path, output, endpoint_inputs), output)
    assert Checkpoint.load(checkpoint_path(output)).rows_done == 32950  # type: ignore[union-attr]
    disk.grow(64 << 20)
    resumed = _score(train_path, output, endpoint_inputs, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert pq.read_table(output).equals(pq.read_table(clean_outputs[".parquet"]))
    assert {p.name for p in disk.folder.iterdir()} == {"out.parquet"}
