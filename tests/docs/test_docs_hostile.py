"""The docs server's proxy against hostile paths, queries and headers.

A real :class:`DocsServer` in front of a recording upstream (a raw socket server that answers 200 and keeps each
request head it gets, under an Azure-like base path), and in front of the real local endpoint.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from bankmarketing_client.docs import DocsServer
from bankmarketing_client.local.endpoint import LocalEndpoint

KEY = "Zx9docsServerKeyForTests"
BASE_PATH = "/api/v1/service/bank/"


class RecordingUpstream:
    """Answers every request with 200 ``ok`` and keeps its head (request line and headers)."""

    def __init__(self) -> None:
        self.heads: list[bytes] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                try:
                    while b"\r\n\r\n" not in data and (chunk := conn.recv(65536)):
                        data += chunk
                except OSError:
                    continue
                self.heads.append(data.partition(b"\r\n\r\n")[0])
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                )

    def request_lines(self) -> list[bytes]:
        return [head.split(b"\r\n", 1)[0] for head in self.heads]

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def upstream() -> Iterator[RecordingUpstream]:
    server = RecordingUpstream()
    yield server
    server.close()


@pytest.fixture
def proxy(upstream: RecordingUpstream) -> Iterator[DocsServer]:
    server = DocsServer(scoring_uri=f"http://127.0.0.1:{upstream.port}{BASE_PATH}score", api_key=KEY)
    with server.running():
        yield server


def raw_get(server: DocsServer, target: bytes, *headers: bytes) -> tuple[int, bytes]:
    """One request sent byte for byte (httpx would normalise the target): (status, body)."""
    head = b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n" % server.port
    received = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(head + b"".join(h + b"\r\n" for h in headers) + b"\r\n")
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    status_line, _, rest = received.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize(
    "target",
    [
        b"/api/..%2F..%2Fother%2Fscore",
        b"/api/%2E%2E/%2E%2E/other/score",
        b"/api/score%2F..%2F..%2F..%2Fother",
        b"/api/.%2e/secret",
        b"/api/a//b",
    ],
)
def test_the_proxy_cannot_leave_the_endpoints_base_path(
    proxy: DocsServer, upstream: RecordingUpstream, target: bytes
) -> None:
    """On main ``..%2F`` was decoded and resolved: the key went to ``/api/v1/other/score`` on the same host."""
    status, body = raw_get(proxy, target)
    assert status == 400
    assert "segments" in json.loads(body)["message"]
    assert upstream.heads == []


@pytest.mark.parametrize(
    "target",
    [
        b"/api/score?x=1%20HTTP/1.1%0D%0AX-Injected:%201",
        b"/api/score?x=%00",
        b"/api/sc%0Dore",
        b"/api/score?x=%FF",
        b"/api/sc%FFore",
        b"/swagger.json?version=2%0D%0AX-Injected:%201",
    ],
)
def test_control_characters_and_undecodable_bytes_are_400(
    proxy: DocsServer, upstream: RecordingUpstream, target: bytes
) -> None:
    status, body = raw_get(proxy, target)
    assert status == 400
    assert json.loads(body)["message"]
    assert upstream.heads == []


def test_path_and_query_are_re_encoded_with_repeats_kept(proxy: DocsServer, upstream: RecordingUpstream) -> None:
    """Decoded, checked and encoded again: order and repeated parameters survive (main kept only the first)."""
    status, body = raw_get(proxy, b"/api/sc%6Fre?a=%C4%80&a=2&b=x+y&c")
    assert (status, body) == (200, b"ok")
    assert upstream.request_lines() == [b"GET " + BASE_PATH.encode() + b"score?a=%C4%80&a=2&b=x%20y&c= HTTP/1.1"]
    assert b"Authorization: Bearer " + KEY.encode() in upstream.heads[0]
    upstream.heads.clear()
    assert raw_get(proxy, b"/api/")[0] == 200  # the endpoint's root: its health check
    assert upstream.request_lines() == [b"GET " + BASE_PATH.encode() + b" HTTP/1.1"]


@pytest.mark.parametrize(
    "header",
    [
        b"Content-Type: application/json\xff",
        "x-ms-client-request-id: id-\u0100".encode(),
        b"Authorization: Bearer own\r\nAuthorization: Bearer other",
    ],
)
def test_forwarded_headers_must_be_printable_ascii_and_single(
    proxy: DocsServer, upstream: RecordingUpstream, header: bytes
) -> None:
    """On main a stray byte was silently dropped and the first of two Authorization headers was used."""
    status, body = raw_get(proxy, b"/api/score", header)
    assert status == 400
    assert json.loads(body)["message"]
    assert upstream.heads == []


def test_a_malformed_authorization_line_is_logged_without_its_value(
    proxy: DocsServer, upstream: RecordingUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    status, _ = raw_get(proxy, b"/api/score", b"Authorization: Bearer " + KEY.encode() + b"\x01")
    assert status == 400
    leaked = KEY in caplog.text  # not in an assert: pytest would print it
    assert not leaked, "the key reached the log"
    assert "refused a malformed request" in caplog.text
    assert upstream.heads == []


# --- in front of the real local endpoint ------------------------------------------------------------------------


@pytest.fixture
def docs(endpoint_inputs: LocalEndpoint) -> Iterator[DocsServer]:
    server = DocsServer(scoring_uri=endpoint_inputs.scoring_uri, api_key=endpoint_inputs.primary_key)
    with server.running():
        yield server


def test_the_issues_smuggling_query_stops_at_the_docs_server(
    docs: DocsServer, endpoint_inputs: LocalEndpoint, load_sample: Callable[[str], Any]
) -> None:
    """On main the proxy re-encoded the query, the front decoded it into its request line and the container read
    ``{}`` as the body (424). Now the docs server refuses it, and a clean query still scores."""
    body = load_sample("data-2023-07-inputs-globalparams-benchmarked.json")
    origin = f"http://127.0.0.1:{docs.port}"
    before = endpoint_inputs.stats().get("requests", 0)
    smuggling = "?x=1%20HTTP/1.1%0D%0AContent-Type:%20application/json%0D%0AContent-Length:%202%0D%0A%0D%0A{}"
    response = httpx.post(origin + "/api/score" + smuggling, json=body, timeout=30)
    assert response.status_code == 400
    assert "control characters" in response.json()["message"]
    assert endpoint_inputs.stats().get("requests", 0) == before
    clean = httpx.post(origin + "/api/score?x=%C4%80", json=body, timeout=30)
    assert clean.status_code == 200
    assert clean.json() == {"Results": ["yes", "no"]}
    assert httpx.get(origin + "/swagger.json?version=%33", timeout=30).json()["openapi"].startswith("3.0")


def test_a_trickled_body_ends_in_408_within_the_request_timeout(upstream: RecordingUpstream) -> None:
    """A body that never completes holds the proxy no longer than its request timeout, and never goes upstream."""
    server = DocsServer(
        scoring_uri=f"http://127.0.0.1:{upstream.port}{BASE_PATH}score", api_key=KEY, request_timeout=1.0
    )
    with server.running(), socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        head = (
            b"POST /api/score HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\nConnection: close\r\n\r\n{" % server.port
        )
        sock.sendall(head)  # one byte of a promised thousand, then nothing
        received = b""
        while b"\r\n\r\n" not in received and (chunk := sock.recv(65536)):
            received += chunk
    assert received.startswith(b"HTTP/1.1 408"), received[:200]
    assert upstream.heads == []
