"""Run a module as ``python -m`` would, recording every name lookup and connection attempt it makes.

``python tests/netaudit.py LOG -m MODULE ARGS...``: installs a ``sys.addaudithook`` hook (CPython's audit events,
raised by the socket module itself: ``socket.getaddrinfo``, ``socket.gethostbyname``, ``socket.connect``; gevent's
sockets and resolver threads call the same functions) that appends one line per event to LOG, then runs MODULE
with ARGS. Nothing is patched or mocked: the program runs as it would, and the log says whether it tried to reach
anything. This is how a test shows that a URL with a non-loopback host was refused before any DNS lookup or
connection, on a machine where only loopback may be reached.

Also importable by the tests: :func:`audit_command` builds the command, :func:`read_events` parses the log, and
:class:`PlainListener` is a raw loopback socket that keeps whatever bytes clients send it (a stand-in for the
network path: with ``HTTP_PROXY`` pointing at it, httpx sends a request for any http URL there, headers and all).
"""

from __future__ import annotations

import runpy
import socket
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

HERE = Path(__file__).resolve()
EVENTS = ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex", "socket.connect")


def audit_command(log: Path, module: str, *args: str) -> list[str]:
    """The command running ``python -m module args`` under the audit hook, events to ``log``."""
    return [sys.executable, str(HERE), str(log), "-m", module, *args]


def read_events(log: Path) -> list[str]:
    """One line per lookup or connection attempt: ``event<TAB>target``."""
    return log.read_text().splitlines() if log.exists() else []


class PlainListener:
    """A plain TCP listener on 127.0.0.1 that accepts connections and keeps what each sends (up to 64 KiB), then
    closes it without answering. ``received`` holds one bytes object per connection."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = int(self._server.getsockname()[1])
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                data = b""
                try:
                    while b"\r\n\r\n" not in data and len(data) < 65536:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                except OSError:
                    pass
                self.received.append(data)

    def __enter__(self) -> PlainListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()


def _target(event: str, args: tuple[Any, ...]) -> str:
    if event == "socket.connect":
        return repr(args[1])
    return repr(args[0])


def _install(out: TextIO) -> None:
    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event in EVENTS:
            out.write(f"{event}\t{_target(event, args)}\n")
            out.flush()

    sys.addaudithook(hook)


def main() -> None:
    log, flag, module, *rest = sys.argv[1:]
    assert flag == "-m", "usage: netaudit.py LOG -m MODULE ARGS..."
    out = open(log, "a", encoding="utf-8")  # noqa: SIM115 - open for the life of the process, before the hook
    _install(out)
    sys.argv = [module, *rest]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
