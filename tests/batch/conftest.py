"""Fixtures for the batch scorer: small input files cut from the training CSV, and endpoints."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.local.pytest_plugin import EndpointFactory
from batch.batch_support import FAULTS, WriteSubset, read_training_rows


@pytest.fixture
def write_subset(train_path: Path, tmp_path: Path) -> WriteSubset:
    """Write the first ``rows`` training rows to a CSV (optionally with an ``id`` column first)."""

    def write(name: str = "input.csv", rows: int = 300, *, with_id: bool = False, delimiter: str = ",") -> Path:
        header, body = read_training_rows(train_path, rows)
        path = tmp_path / name
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
            writer.writerow(["id", *header] if with_id else header)
            for index, row in enumerate(body, start=1):
                writer.writerow([f"C{index:06d}", *row] if with_id else row)
        return path

    return write


@pytest.fixture
def scoring_env(endpoint_inputs: LocalEndpoint, monkeypatch: pytest.MonkeyPatch) -> LocalEndpoint:
    """The shared ``inputs`` endpoint, also exported as $BANKMARKETING_SCORING_URI / $BANKMARKETING_API_KEY."""
    monkeypatch.setenv("BANKMARKETING_SCORING_URI", endpoint_inputs.scoring_uri)
    monkeypatch.setenv("BANKMARKETING_API_KEY", endpoint_inputs.primary_key)
    return endpoint_inputs


@pytest.fixture(scope="session")
def faulty_endpoint(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    """An ``inputs`` endpoint injecting the issue's faults (503s, resets, 429 with Retry-After)."""
    return bankmarketing_endpoint_factory(contract="inputs", faults=FAULTS)
