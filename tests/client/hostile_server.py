"""A small hostile HTTP server on a loopback port, for the tests of bounded answers.

The real local endpoint (aiohttp front, gunicorn, azmlinfsrv) cannot be made to answer with a gzip bomb, a body
that never ends or a lying ``Content-Length``: that is what a hostile or broken endpoint (or a proxy in front of
one) does, so the tests bring their own server. It is a real server over real sockets (``http.server``), so the
client's real httpx stack, decoding and connection handling are what is tested.

Every path is ``/<mode>/...``; the mode says how it answers (any method, any path below it):

* ``gzip-bomb``: 200, ``Content-Encoding: gzip``, 1 GiB of zeros compressed to about 1 MB (honest length).
* ``br-bomb``: 200, ``Content-Encoding: br`` (a coding the client does not offer), 1 GiB of zeros in a few KB.
* ``huge``: 200, a plain JSON start followed by 1 GiB of ``"no", `` (honest length).
* ``huge-error``: 500, 1 GiB of text (honest length).
* ``lying-length``: 200, ``Content-Length`` of 1 TiB, then 256 MiB of ``0`` and the connection closed.
* ``auth-bomb``: 401 with the gzip bomb, to every request (so a secondary key is tried, and refused too).
* ``deep``: 200, 400,000 ``[`` (well within the cap of a small request, deeper than Python's JSON parser goes).
"""

from __future__ import annotations

import contextlib
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final

GIB: Final = 1 << 30
CHUNK: Final = 1 << 20


def gzip_of_zeros(size: int = GIB) -> bytes:
    """``size`` zero bytes gzip-compressed, built in 1 MiB steps (never the whole expansion in memory)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = bytes(CHUNK)
    parts = [packer.compress(zeros) for _ in range(size // CHUNK)]
    parts.append(packer.flush())
    return b"".join(parts)


def brotli_of_zeros(size: int = GIB) -> bytes:
    """``size`` zero bytes brotli-compressed, in 1 MiB steps."""
    import brotli  # type: ignore[import-untyped]

    packer = brotli.Compressor(quality=5)
    zeros = bytes(CHUNK)
    parts = [packer.process(zeros) for _ in range(size // CHUNK)]
    parts.append(packer.finish())
    return b"".join(parts)


def _repeated(piece: bytes, total: int) -> Iterator[bytes]:
    block = piece * (CHUNK // len(piece))
    sent = 0
    while sent < total:
        part = block[: total - sent]
        sent += len(part)
        yield part


class HostileServer:
    """The server above, on ``127.0.0.1`` and a free port, in a thread; ``url(mode)`` is a scoring URI."""

    def __init__(self, gzip_bomb: bytes, br_bomb: bytes | None = None) -> None:
        self.gzip_bomb = gzip_bomb
        self.br_bomb = br_bomb
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, for the tests
        self.authorizations: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                server.requests.append((self.command, self.path))
                server.authorizations.append(self.headers.get("Authorization", ""))
                mode = self.path.strip("/").split("/")[0]
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client stopped reading
                    server.send(self, mode)
                self.close_connection = True

            do_GET = do_POST = _answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def send(self, handler: BaseHTTPRequestHandler, mode: str) -> None:
        def head(status: int, length: int, **headers: str) -> None:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(length))
            handler.send_header("Connection", "close")
            handler.send_header("x-ms-request-id", f"hostile-{mode}")
            for name, value in headers.items():
                handler.send_header(name.replace("_", "-"), value)
            handler.end_headers()

        def body(parts: Iterator[bytes]) -> None:
            for part in parts:
                handler.wfile.write(part)

        if mode == "gzip-bomb":
            head(200, len(self.gzip_bomb), Content_Encoding="gzip")
            handler.wfile.write(self.gzip_bomb)
        elif mode == "br-bomb" and self.br_bomb is not None:
            head(200, len(self.br_bomb), Content_Encoding="br")
            handler.wfile.write(self.br_bomb)
        elif mode == "huge":
            start = b'{"Results": ['
            head(200, len(start) + GIB)
            handler.wfile.write(start)
            body(_repeated(b'"no", ', GIB))
        elif mode == "huge-error":
            head(500, GIB)
            body(_repeated(b"An unexpected error occurred. ", GIB))
        elif mode == "lying-length":
            head(200, 1 << 40)
            body(_repeated(b"0", 256 << 20))
        elif mode == "auth-bomb":
            head(401, len(self.gzip_bomb), Content_Encoding="gzip")
            handler.wfile.write(self.gzip_bomb)
        elif mode == "deep":
            nested = b"[" * 400_000
            head(200, len(nested))
            handler.wfile.write(nested)
        else:
            head(404, 2)
            handler.wfile.write(b"{}")

    def url(self, mode: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/{mode}/score"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
