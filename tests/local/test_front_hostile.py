"""The front against hostile input, over raw sockets against the real front and container.

Each test sends what an attacker would, byte for byte, and checks what comes back, what the front's log holds
and, through the stats counters, what reached the model: CRLF smuggled in the query, malformed or duplicated
``Authorization`` headers, bytes the container cannot take, slow uploads, and headers sent one byte at a time.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bankmarketing_client.local import LocalEndpoint
from bankmarketing_client.local.pytest_plugin import EndpointFactory

HEADER_TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def hardened(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    """Default limits (pending 4, request timeout 5 s) and a short header timeout."""
    return bankmarketing_endpoint_factory(contract="inputs", header_timeout_ms=int(HEADER_TIMEOUT_S * 1000))


@pytest.fixture(scope="module")
def payload(load_sample: Callable[[str], Any]) -> bytes:
    return json.dumps(load_sample("data-2023-07-inputs-globalparams-benchmarked.json")).encode()


def build(
    target: bytes = b"/score",
    *,
    method: bytes = b"POST",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
    length: int | None = None,
) -> bytes:
    """One request, byte for byte, closing the connection after the answer."""
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    lines += [name + b": " + value for name, value in headers or []]
    if method == b"POST":
        lines.append(b"Content-Length: %d" % (len(body) if length is None else length))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def keyed(endpoint: LocalEndpoint, *extra: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    return [
        (b"Authorization", b"Bearer " + endpoint.primary_key.encode()),
        (b"Content-Type", b"application/json"),
        *extra,
    ]


def exchange(endpoint: LocalEndpoint, data: bytes, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` on a fresh connection and read until the front closes it: (status, headers, body)."""
    received = b""
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=timeout) as sock:
        sock.sendall(data)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:  # a server closing with unread input may reset; what arrived still counts
            pass
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


def message(body: bytes) -> str:
    text: str = json.loads(body)["message"]
    return text


def front_log(endpoint: LocalEndpoint) -> str:
    return (endpoint.log_dir / "front.log").read_text(errors="replace")


# -- 1. CRLF smuggled through the query ------------------------------------------------------------------------------
SMUGGLING_QUERY = b"?x=1%20HTTP/1.1%0D%0AContent-Type:%20application/json%0D%0AContent-Length:%202%0D%0A%0D%0A{}"


def test_crlf_in_the_query_cannot_rewrite_the_containers_request(hardened: LocalEndpoint, payload: bytes) -> None:
    """The issue's curl line: on main the container read ``{}`` as the body and answered 400 (so 424 here)."""
    before = hardened.stats()
    status, headers, body = exchange(
        hardened, build(b"/score" + SMUGGLING_QUERY, headers=keyed(hardened), body=payload)
    )
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    assert "control characters" in message(body)
    assert headers["x-request-id"]
    after = hardened.stats()
    assert after.get("424", 0) == before.get("424", 0)
    assert after.get("200", 0) == before.get("200", 0)  # nothing reached the model
    assert after["400"] == before.get("400", 0) + 1


@pytest.mark.parametrize("path", [b"/", b"/swagger.json"])
def test_the_open_routes_refuse_crlf_in_the_query_without_a_key(hardened: LocalEndpoint, path: bytes) -> None:
    status, _, body = exchange(hardened, build(path + b"?x=1%20HTTP/1.1%0D%0AX-Injected:%201", method=b"GET"))
    assert status == 400
    assert "control characters" in message(body)


def test_the_query_is_decoded_and_re_encoded_not_refused(hardened: LocalEndpoint, payload: bytes) -> None:
    """Valid parameters still reach the container, re-encoded: an escaped digit and non-Latin-1 text."""
    status, _, body = exchange(hardened, build(b"/swagger.json?version=%33", method=b"GET"))
    assert status == 200
    assert json.loads(body)["openapi"].startswith("3.0")
    # Non-Latin-1 text in the query was a 502 ("the container dropped the connection") on main.
    status, _, body = exchange(hardened, build(b"/score?x=%C4%80&y=a+b&y=2", headers=keyed(hardened), body=payload))
    assert status == 200
    assert json.loads(body) == {"Results": ["yes", "no"]}
    status, _, body = exchange(hardened, build(b"/swagger.json?version=%C4%80", method=b"GET"))
    assert status == 404  # the container's own answer: it got the decoded value
    assert "\u0100" in message(body)


def test_a_query_that_is_not_utf8_is_400(hardened: LocalEndpoint, payload: bytes) -> None:
    status, _, body = exchange(hardened, build(b"/score?x=%FF", headers=keyed(hardened), body=payload))
    assert status == 400
    assert "UTF-8" in message(body)


# -- 5. the key in the log ---------------------------------------------------------------------------------------------
def malformed_authorization_lines(endpoint: LocalEndpoint) -> list[bytes]:
    key = endpoint.primary_key.encode()
    return [
        b"Authorization: Bearer " + key + b"\x01",  # a control byte in the value
        b"Authorization : Bearer " + key,  # a space before the colon
        b"Authorization: Bearer " + key + b"\x7f",
    ]


def test_malformed_authorization_lines_never_reach_the_log(hardened: LocalEndpoint, payload: bytes) -> None:
    for line in malformed_authorization_lines(hardened):
        head = b"POST /score HTTP/1.1\r\nHost: x\r\n" + line + b"\r\nContent-Type: application/json\r\n"
        status, _, _ = exchange(hardened, head + b"Content-Length: %d\r\n\r\n" % len(payload) + payload)
        assert status == 400
    time.sleep(0.5)  # the front's stderr is unbuffered; give the write a moment all the same
    log = front_log(hardened)
    leaked = hardened.primary_key in log or hardened.secondary_key in log  # not in an assert: pytest would print it
    assert not leaked, "a key is in front.log"
    assert "Traceback" not in log
    assert "refused a malformed request" in log


def test_a_flood_of_malformed_requests_barely_grows_the_log(hardened: LocalEndpoint) -> None:
    """On main each one added ~0.5 KB of traceback; now at most one line a second names the fault."""
    log_path = hardened.log_dir / "front.log"
    size_before = log_path.stat().st_size
    malformed_before = hardened.stats().get("malformed", 0)
    started = time.monotonic()
    for _ in range(200):
        status, _, _ = exchange(hardened, b"GET / HTTP/1.1\r\nHost: x\r\nX-Bad\x01: y\r\n\r\n")
        assert status == 400
    elapsed = time.monotonic() - started
    time.sleep(0.5)
    grown = log_path.stat().st_size - size_before
    assert grown <= (elapsed + 2) * 150, f"the log grew by {grown} bytes in {elapsed:.1f} s"
    assert hardened.stats()["malformed"] == malformed_before + 200  # each one is still counted


# -- 6. bytes nobody can forward ---------------------------------------------------------------------------------------
def test_authorization_that_is_not_utf8_is_400_not_500(hardened: LocalEndpoint, payload: bytes) -> None:
    headers = [(b"Authorization", b"Bearer " + hardened.primary_key.encode() + b"\xff")]
    status, _, body = exchange(hardened, build(headers=headers, body=payload))
    assert status == 400
    assert message(body) == "The Authorization header is not valid UTF-8."
    assert b"Bearer" not in body  # the refusal does not echo the header
    # Valid UTF-8 that is not the key stays what it was: a wrong key.
    status, headers_out, _ = exchange(
        hardened, build(headers=[(b"Authorization", "Bearer clé".encode())], body=payload)
    )
    assert status == 401
    assert headers_out["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param(b"Content-Type", b"application/json\xe9", id="content-type-latin1-byte"),
        pytest.param(b"x-ms-client-request-id", "id-\u0100".encode(), id="client-id-non-latin1"),
        pytest.param(b"x-request-id", b"id-\xff", id="request-id-not-utf8"),
        pytest.param(b"x-ms-request-id", "id-\u0100".encode(), id="ms-request-id-non-latin1"),
    ],
)
def test_header_bytes_the_container_cannot_take_are_400_not_502(
    hardened: LocalEndpoint, payload: bytes, name: bytes, value: bytes
) -> None:
    headers = [(b"Authorization", b"Bearer " + hardened.primary_key.encode()), (name, value)]
    if name != b"Content-Type":
        headers.append((b"Content-Type", b"application/json"))
    status, response_headers, body = exchange(hardened, build(headers=headers, body=payload))
    assert status == 400
    assert "printable ASCII" in message(body)
    assert name.decode() in message(body)
    assert response_headers["x-request-id"].isascii()
    # The open routes apply the same rules.
    status, _, _ = exchange(hardened, build(b"/", method=b"GET", headers=[(name, value)]))
    assert status == 400


# -- 8. two Authorization headers --------------------------------------------------------------------------------------
@pytest.mark.parametrize("order", ["right-then-wrong", "wrong-then-right", "right-twice"])
def test_two_authorization_headers_are_refused(hardened: LocalEndpoint, payload: bytes, order: str) -> None:
    right = b"Bearer " + hardened.primary_key.encode()
    pair = {"right-then-wrong": (right, b"Bearer wrong"), "wrong-then-right": (b"Bearer wrong", right)}
    first, second = pair.get(order, (right, right))
    before = hardened.stats().get("200", 0)
    headers = [(b"Authorization", first), (b"Authorization", second), (b"Content-Type", b"application/json")]
    status, _, body = exchange(hardened, build(headers=headers, body=payload))
    assert status == 400
    assert message(body) == "More than one Authorization header."
    assert hardened.stats().get("200", 0) == before


def test_other_headers_the_front_reads_must_appear_once(hardened: LocalEndpoint, payload: bytes) -> None:
    extra = (b"x-request-id", b"one"), (b"x-request-id", b"two")
    status, _, body = exchange(hardened, build(headers=keyed(hardened, *extra), body=payload))
    assert status == 400
    assert message(body) == "More than one x-request-id header."


# -- 7. slow clients ---------------------------------------------------------------------------------------------------
def test_slow_uploads_do_not_take_the_pending_slots_of_others(hardened: LocalEndpoint, payload: bytes) -> None:
    """Six keyed uploads (more than the 4 pending slots) send one body byte and stall. On main every other request
    was 429 until they timed out; now others are served and the stalled ones end in 408 at the request timeout."""
    stalled: list[socket.socket] = []
    started = time.monotonic()
    try:
        for _ in range(6):
            sock = socket.create_connection(("127.0.0.1", hardened.port), timeout=60)
            sock.sendall(build(headers=keyed(hardened), body=payload[:1], length=len(payload)))
            stalled.append(sock)
        time.sleep(0.3)
        statuses: list[int] = []
        headers = {"Authorization": f"Bearer {hardened.primary_key}", "Content-Type": "application/json"}
        with httpx.Client(timeout=10) as client:
            while time.monotonic() - started < 10 and len(statuses) < 20:  # bounded in count and time
                statuses.append(client.post(hardened.scoring_uri, content=payload, headers=headers).status_code)
        assert len(statuses) >= 10
        assert set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
        for sock in stalled:
            answer = b""
            try:
                while chunk := sock.recv(65536):
                    answer += chunk
                    if b"\r\n\r\n" in answer:
                        break
            except ConnectionResetError:
                pass
            except TimeoutError:
                pytest.fail("a stalled upload was still held a minute later")
            if answer:  # closed without an answer is also fine
                assert answer.startswith(b"HTTP/1.1 408 "), answer[:80]
    finally:
        for sock in stalled:
            sock.close()
    assert hardened.stats()["pending"] == 0


def test_a_connection_trickling_its_headers_is_closed_after_the_header_timeout(hardened: LocalEndpoint) -> None:
    """One byte every 0.2 s: on main the connection stayed open (for an hour); now it is closed at the timeout."""
    head = build(headers=keyed(hardened), body=b"{}")
    started = time.monotonic()
    closed_after: float | None = None
    with socket.create_connection(("127.0.0.1", hardened.port), timeout=10) as sock:
        sock.settimeout(0.2)
        for byte in head * 10:
            if time.monotonic() - started > HEADER_TIMEOUT_S + 30:  # bounded: far past the timeout
                break
            try:
                sock.send(bytes([byte]))
                answer = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:  # reset or broken pipe: closed
                closed_after = time.monotonic() - started
                break
            if not answer or answer.startswith(b"HTTP/1.1 408 "):
                closed_after = time.monotonic() - started
                break
            pytest.fail(f"unexpected answer to half a request: {answer[:80]!r}")
    assert closed_after is not None, "the trickling connection was still open"
    assert closed_after >= HEADER_TIMEOUT_S - 0.5  # by the header timeout, not for some other reason earlier


def test_a_prompt_client_keeps_its_connection_across_requests(hardened: LocalEndpoint, payload: bytes) -> None:
    """The header timeout runs from the last answer: quick follow-ups are served on the same connection.

    A raw socket, not httpx: httpx would silently reconnect if the front had closed the connection.
    """
    request = build(headers=keyed(hardened), body=payload).replace(b"Connection: close", b"Connection: keep-alive")
    with socket.create_connection(("127.0.0.1", hardened.port), timeout=30) as sock, sock.makefile("rb") as answer:
        for _ in range(3):
            sock.sendall(request)
            status_line = answer.readline()
            assert status_line.startswith(b"HTTP/1.1 200 "), status_line  # b"" if the connection was closed
            length = 0
            while (line := answer.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            assert json.loads(answer.read(length))["Results"]
            time.sleep(HEADER_TIMEOUT_S / 4)


# -- found on the way ------------------------------------------------------------------------------------------------
def test_head_on_the_open_routes_is_answered(hardened: LocalEndpoint) -> None:
    """The container answers HEAD with a length and no body; main waited for that body and answered 502."""
    response = httpx.head(hardened.base_url + "/", timeout=10)
    assert response.status_code == 200
    assert response.content == b""
