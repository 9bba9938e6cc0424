"""Shared fixtures: one local endpoint per contract family for the whole session (start-up costs seconds)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.local.pytest_plugin import EndpointFactory

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# `make test` exports these; a bare `pytest` in a checkout beside ../shared gets the same defaults.
if (SHARED_DATA / "bankmarketing_train.csv").is_file():
    os.environ.setdefault("BANKMARKETING_DATA", str(SHARED_DATA / "bankmarketing_train.csv"))
    os.environ.setdefault("BANKMARKETING_HOLDOUT", str(SHARED_DATA / "bankmarketing_holdout_derived.csv"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real Azure artefacts: ../shared/data, or beside $BANKMARKETING_DATA."""
    env = os.environ.get("BANKMARKETING_DATA")
    folder = Path(env).parent if env else SHARED_DATA
    assert (folder / "azure-samples").is_dir(), f"real Azure samples not found beside {folder}"
    return folder


@pytest.fixture(scope="session")
def train_path(shared_data: Path) -> Path:
    return Path(os.environ.get("BANKMARKETING_DATA") or shared_data / "bankmarketing_train.csv")


@pytest.fixture(scope="session")
def load_sample(shared_data: Path) -> Any:
    def load(name: str) -> Any:
        return json.loads((shared_data / "azure-samples" / name).read_text())

    return load


@pytest.fixture(scope="session")
def endpoint_inputs(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    return bankmarketing_endpoint_factory(contract="inputs")


@pytest.fixture(scope="session")
def endpoint_data(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    return bankmarketing_endpoint_factory(contract="data")


@pytest.fixture(scope="session")
def endpoint_mlflow(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    """The ``mlflow`` family: ``blue`` answers labels (all traffic), ``green`` the same trees' probabilities
    (reached with the deployment header), as one endpoint can hold a labels and a probabilities deployment."""
    return bankmarketing_endpoint_factory(
        contract="mlflow",
        deployments=["blue", "green=default,answers=probabilities"],
        traffic={"blue": 100, "green": 0},
        worker_count=1,
    )
