"""Helpers shared by the batch tests (imported as a top-level module, as pytest puts this folder on sys.path)."""

from __future__ import annotations

import csv
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.local.faults import FaultSpec

WriteSubset = Callable[..., Path]

#: The faults the issue names: 20% 503, 5% connection resets, 429 bursts with Retry-After.
FAULTS = FaultSpec(
    unavailable_ratio=0.2, reset_ratio=0.05, throttled_ratio=0.05, retry_after_seconds=0.2, latency_ms=25, seed=7
)


def read_training_rows(train_path: Path, limit: int | None = None) -> tuple[list[str], list[list[str]]]:
    with train_path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(itertools.islice(reader, limit))
    return header, rows


def cli_env(endpoint: LocalEndpoint) -> dict[str, str]:
    """Environment for a CLI subprocess: the key travels in the environment, never in argv."""
    env = dict(os.environ)
    env["BANKMARKETING_SCORING_URI"] = endpoint.scoring_uri
    env["BANKMARKETING_API_KEY"] = endpoint.primary_key
    env["PYTHONUNBUFFERED"] = "1"
    return env


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


CLI = [sys.executable, "-m", "bankmarketing_client.cli", "score"]

#: Runs a command in a fresh interpreter that then reports the command's peak RSS: RUSAGE_CHILDREN of the test
#: process itself would be the largest of every child it ever waited for, earlier tests' included.
_MEASURE = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=300)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"code": done.returncode, "out": done.stdout, "err": done.stderr, "peak_kib": peak}))
"""


@dataclass(frozen=True)
class Measured:
    """A finished CLI run: exit code, output streams and the peak resident memory of the process (bytes)."""

    code: int
    out: str
    err: str
    peak_bytes: int


def run_measured(argv: list[str], env: dict[str, str]) -> Measured:
    """Run ``argv`` to the end (at most 300 s) and measure its peak memory (Linux reports ru_maxrss in KiB)."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, *argv], env=env, capture_output=True, text=True, timeout=330)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    return Measured(report["code"], report["out"], report["err"], report["peak_kib"] * 1024)


def sparse_hole(fh: BinaryIO, size: int) -> None:
    """Leave ``size`` NUL bytes at the current position without writing them (a hole: no disk, no time)."""
    fh.seek(size, os.SEEK_CUR)


def files_under(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))
