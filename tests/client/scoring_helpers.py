"""Helpers for the client tests: real records, the container's own answers, recording transports."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Mapping
from typing import Any

import httpx

from bankmarketing_client.features import records_from_text, records_to_wire
from bankmarketing_client.local.endpoint import LocalEndpoint

Record = dict[str, Any]


def typed(row: Mapping[str, str]) -> Record:
    """A CSV row (all strings) as a JSON record with the swagger's types, read by the record codec as the client
    reads text; the target column dropped."""
    (record,) = records_to_wire(records_from_text([row]))
    return record


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


class TrickleServer:
    """A loopback HTTP server that answers every request with a valid 200 sent one byte every ``interval`` s.

    The real front cannot produce this (it answers at once or not at all); it is how a slow proxy or a
    congested link looks, and what a client deadline must still cut short. By default only the body trickles;
    with ``trickle_head`` the status line and headers do too (``heads_sent`` counts the heads sent in full).
    Each answer is bounded (its length times ``interval`` seconds) and stops as soon as the client hangs up.
    """

    #: Headers a real Azure answer carries, so that a trickled head is as long as a real one.
    AZURE_HEADERS = (
        "x-ms-run-function-failed: False\r\nx-ms-server-version: azmlinfsrv/1.5.1\r\n"
        "x-ms-request-id: 7d5f3e22-6c1b-4a3e-9a57-0f6f0c2d4b11\r\n"
    )

    def __init__(self, body: bytes, *, interval: float = 0.3, trickle_head: bool = False) -> None:
        self.body = body
        self.interval = interval
        self.trickle_head = trickle_head
        self.connections = 0
        self.heads_sent = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def scoring_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/score"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                received += chunk
            head = (
                f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(self.body)}\r\n"
                f"{self.AZURE_HEADERS}\r\n"
            ).encode()
            try:
                if self.trickle_head:
                    for byte in head:
                        if self._closed.wait(self.interval):
                            return
                        conn.sendall(bytes([byte]))
                else:
                    conn.sendall(head)
                self.heads_sent += 1
                for byte in self.body:
                    if self._closed.wait(self.interval):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:  # the client gave up: what the deadline is for
                return

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
