"""The sync face's attempt deadline, enforced below httpx.

httpx's sync timeouts apply per read, so a server sending one byte a second never trips them, and a blocking
socket read cannot be cut short from outside without a thread (which gevent and Locust would not welcome).
:class:`DeadlineBackend` wraps the httpcore network backend of an ``httpx.Client``: while an attempt's
:class:`AttemptClock` is set in :data:`ATTEMPT`, every connect, read and write waits at most what is left of the
attempt's budget and raises a timeout when nothing is left. Outside an attempt it changes nothing.
"""

from __future__ import annotations

import contextvars
import ssl
import time
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx


class AttemptClock:
    """When the running attempt must end; set for the duration of one sync attempt (see :data:`ATTEMPT`)."""

    __slots__ = ("binding", "until")

    def __init__(self, budget: float) -> None:
        self.until = time.monotonic() + budget
        self.binding = False  # the last wait was cut to the budget: a timeout there means the budget is spent

    def expired(self) -> bool:
        return time.monotonic() >= self.until

    def clip(self, timeout: float | None, timed_out: type[httpcore.TimeoutException]) -> float | None:
        """``timeout`` cut to the time left; raises ``timed_out`` (which httpx maps to its own) when none is."""
        left = self.until - time.monotonic()
        self.binding = timeout is None or left <= timeout
        if left <= 0:
            raise timed_out("the attempt's time budget is spent")
        return left if self.binding else timeout


#: The clock of the sync attempt running in this thread or greenlet (contextvars are per greenlet), or None.
ATTEMPT: contextvars.ContextVar[AttemptClock | None] = contextvars.ContextVar("bankmarketing_attempt", default=None)


def _clip(timeout: float | None, timed_out: type[httpcore.TimeoutException]) -> float | None:
    clock = ATTEMPT.get()
    return timeout if clock is None else clock.clip(timeout, timed_out)


class DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write waits at most what is left of the running attempt."""

    #: Writes go out in slices, each with a fresh clip, so a slow reader cannot stretch one large write.
    WRITE_SLICE = 64 * 1024

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clip(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if ATTEMPT.get() is None:  # outside an attempt: as the wrapped stream would
            self._inner.write(buffer, timeout)
            return
        view = memoryview(buffer)
        for start in range(0, len(view), self.WRITE_SLICE):
            self._inner.write(bytes(view[start : start + self.WRITE_SLICE]), _clip(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        clipped = _clip(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, clipped))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """Wraps httpcore's backend so that connecting, and every stream it opens, honour the attempt's clock.

    Outside a :class:`ScoringClient` attempt (no clock set) it changes nothing, which is what makes it safe to
    install in an ``httpx.Client`` the caller also uses for other requests.
    """

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        clipped = _clip(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._inner.connect_tcp(host, port, clipped, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
    ) -> httpcore.NetworkStream:
        clipped = _clip(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._inner.connect_unix_socket(path, clipped, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install(http: httpx.Client) -> bool:
    """Put :class:`DeadlineBackend` under every connection pool ``http`` sends through; False if one has none.

    httpx offers no public way to pass a network backend (``HTTPTransport`` builds its httpcore pool itself,
    and its env-proxy mounts too), so this reaches the pools through httpx's and httpcore's attributes
    (httpx 0.27-0.28, httpcore 1.x; the trickle tests fail if that changes). Connections the pool opened
    before are not wrapped: a caller's client should be handed over before use. A transport that is not
    ``httpx.HTTPTransport`` cannot be reached, and the face then falls back to checking between body chunks.
    """
    transports = [getattr(http, "_transport", None), *getattr(http, "_mounts", {}).values()]
    reached = True
    for transport in transports:
        if transport is None:  # a mount meaning "no proxy for these URLs"
            continue
        pool = getattr(transport, "_pool", None) if isinstance(transport, httpx.HTTPTransport) else None
        backend = getattr(pool, "_network_backend", None)
        if not isinstance(pool, httpcore.ConnectionPool) or not isinstance(backend, httpcore.NetworkBackend):
            reached = False
        elif not isinstance(backend, DeadlineBackend):
            pool._network_backend = DeadlineBackend(backend)
    return reached
