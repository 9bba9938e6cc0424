"""Helpers shared by the batch tests (imported as a top-level module, as pytest puts this folder on sys.path)."""

from __future__ import annotations

import csv
import itertools
import os
from collections.abc import Callable
from pathlib import Path

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
