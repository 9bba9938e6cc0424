"""Fixtures and helpers shared by the client tests (loaded with ``pytest_plugins = ["scoring_support"]``).

Endpoints with special settings (faults, a slow model, a small body limit) are started once per session through
the lead's ``bankmarketing_endpoint_factory``; the plain ones are the session fixtures of ``tests/conftest.py``.
"""

from __future__ import annotations

import csv
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from bankmarketing_client.data import FLOAT_COLUMNS, INTEGER_COLUMNS
from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.local.faults import FaultSpec
from bankmarketing_client.local.pytest_plugin import EndpointFactory

Record = dict[str, Any]


def typed(row: Mapping[str, str]) -> Record:
    """A CSV row (all strings) as a JSON record with the swagger's types; the target column dropped."""
    out: Record = {}
    for name, text in row.items():
        if name == "y":
            continue
        out[name] = int(text) if name in INTEGER_COLUMNS else float(text) if name in FLOAT_COLUMNS else text
    return out


@pytest.fixture(scope="session")
def holdout_records(shared_data: Path) -> list[Record]:
    """The first 60 rows of the held-out data: real records the model never saw."""
    path = Path(os.environ.get("BANKMARKETING_HOLDOUT") or shared_data / "bankmarketing_holdout_derived.csv")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return [typed(row) for _, row in zip(range(60), reader, strict=False)]


@pytest.fixture(scope="session")
def sample_records(load_sample: Callable[[str], Any]) -> list[Record]:
    """The two records of Azure's own sample request (schema order)."""
    records: list[Record] = load_sample("data-2021-06-schema-order.json")["data"]
    return records


def container_results(endpoint: LocalEndpoint, records: list[Record], method: str = "predict") -> list[Any]:
    """What the scoring container itself answers for ``records``: the truth the client must reproduce.

    Decoded here by hand (not with the client's decoder), so a decoder bug cannot hide behind itself.
    """
    if endpoint.contract == "inputs":
        body: dict[str, Any] = {"Inputs": {"data": records}, "GlobalParameters": {"method": method}}
    else:
        body = {"data": records}
    response = httpx.post(endpoint.container_url + "/score", json=body, timeout=30)
    assert response.status_code == 200, response.text
    payload = response.json()
    if endpoint.contract == "inputs":
        results: list[Any] = payload["Results"]
    else:
        results = json.loads(payload)["result"]
    return results


def requests_seen(endpoint: LocalEndpoint) -> int:
    """How many ``/score`` requests reached the front so far."""
    return endpoint.stats().get("requests", 0)


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


class RecordingTransport(httpx.BaseTransport):
    """A real HTTP transport that also records what went out and how many requests were in flight at once.

    Not a mock: every request still goes over the network to the real endpoint.
    """

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self._lock = threading.Lock()
        self.sent: list[httpx.Request] = []
        self.in_flight = 0
        self.max_in_flight = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.sent.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return self._inner.handle_request(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def close(self) -> None:
        self._inner.close()


class AsyncRecordingTransport(httpx.AsyncBaseTransport):
    """The async twin of :class:`RecordingTransport` (real network, plus a count of requests in flight)."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.sent: list[httpx.Request] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._inner.handle_async_request(request)
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture
def recording() -> Iterator[RecordingTransport]:
    transport = RecordingTransport()
    yield transport
    transport.close()
