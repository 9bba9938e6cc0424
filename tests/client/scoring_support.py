"""Fixtures shared by the client tests (loaded with ``pytest_plugins = ["scoring_support"]``).

Endpoints with special settings (faults, a slow model, a small body limit) are started once per session through
the lead's ``bankmarketing_endpoint_factory``; the plain ones are the session fixtures of ``tests/conftest.py``.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from scoring_helpers import Record, RecordingTransport, typed

from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.local.faults import FaultSpec
from bankmarketing_client.local.pytest_plugin import EndpointFactory


@pytest.fixture(scope="session")
def holdout_records(shared_data: Path) -> list[Record]:
    """60 rows of the held-out data (real records the model never saw): the first 40 who subscribed and the
    first 20 who did not, so that both labels appear in the answers and a swapped label would show."""
    path = Path(os.environ.get("BANKMARKETING_HOLDOUT") or shared_data / "bankmarketing_holdout_derived.csv")
    wanted = {"yes": 40, "no": 20}
    picked: list[Record] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if wanted.get(row["y"], 0) > 0:
                wanted[row["y"]] -= 1
                picked.append(typed(row))
            if len(picked) == 60:
                break
    return picked


@pytest.fixture(scope="session")
def sample_records(load_sample: Callable[[str], Any]) -> list[Record]:
    """The two records of Azure's own sample request (schema order)."""
    records: list[Record] = load_sample("data-2021-06-schema-order.json")["data"]
    return records


@pytest.fixture(scope="session")
def faulty_inputs(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    """``inputs`` endpoint whose front fails a third of requests (503, 429 + Retry-After, resets) and adds latency."""
    faults = FaultSpec(
        unavailable_ratio=0.12,
        throttled_ratio=0.12,
        reset_ratio=0.1,
        retry_after_seconds=0.2,
        latency_ms=5,
        seed=7,
    )
    return bankmarketing_endpoint_factory(contract="inputs", faults=faults, worker_count=1)


@pytest.fixture(scope="session")
def faulty_data(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    """``data`` endpoint with the same kinds of faults (other seed)."""
    faults = FaultSpec(
        unavailable_ratio=0.15,
        throttled_ratio=0.1,
        reset_ratio=0.1,
        retry_after_seconds=0.2,
        latency_ms=5,
        seed=11,
    )
    return bankmarketing_endpoint_factory(contract="data", faults=faults, worker_count=1)


@pytest.fixture(scope="session")
def slow_inputs(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    """A model slower (1.5 s) than the front's request timeout (0.4 s): every score is a 408. Small body limit."""
    return bankmarketing_endpoint_factory(
        contract="inputs", model_delay_ms=1500, request_timeout_ms=400, max_body_bytes=3000, worker_count=1
    )


@pytest.fixture(scope="session")
def blue_green(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    """Two deployments splitting traffic 50/50 (seeded), and ``canary`` with no traffic, reached only by name."""
    return bankmarketing_endpoint_factory(
        contract="inputs",
        deployments=["blue", "green", "canary"],
        traffic={"blue": 50, "green": 50, "canary": 0},
        routing_seed=5,
        worker_count=1,
    )


@pytest.fixture(scope="session")
def token_inputs(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    """An ``aml_token`` endpoint: keys are refused, tokens from ``get_token()`` accepted until they expire."""
    return bankmarketing_endpoint_factory(contract="inputs", auth_mode="aml_token", worker_count=1)


@pytest.fixture
def recording() -> Iterator[RecordingTransport]:
    transport = RecordingTransport()
    yield transport
    transport.close()
