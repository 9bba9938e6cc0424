"""A small scoring server of the load tests' own, whose timing is known exactly (run as a script, loopback only).

``python toy_server.py --port P [--service-ms D --servers C] [--stall-after N --stall-s S]``

* It answers ``POST .../score`` as an ``inputs``-family endpoint does (``{"Results": [0, ...]}``, one per record
  of ``{"Inputs": {"data": [...]}}``), over HTTP/1.1 keep-alive.
* ``--service-ms D --servers C``: each request holds one of C servers for D ms (FIFO), so the endpoint is an
  M/D/C queue under Poisson arrivals, whose latency queueing theory gives.
* ``--stall-after N --stall-s S``: once, when request N arrives, every answer is held until S seconds after it
  (the requests that arrive meanwhile wait too): a stall of a known length at a known moment.
* ``GET /stats``: JSON ``{"requests": n, "during_stall": m, "arrivals": [seconds, ...]}`` (arrival times
  relative to the first request).

Real HTTP on a real socket: what the real local endpoint cannot be made to do (stall exactly once, or serve in
exactly D ms) is what this server is for.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any


class Toy:
    def __init__(self, args: argparse.Namespace) -> None:
        self.service_s = args.service_ms / 1000.0
        self.servers = asyncio.Semaphore(args.servers)
        self.stall_after = args.stall_after
        self.stall_s = args.stall_s
        self.stall_until: float | None = None
        self.requests = 0
        self.during_stall = 0
        self.arrivals: list[float] = []
        self.first: float | None = None

    async def score(self, body: bytes) -> bytes:
        now = time.monotonic()
        if self.first is None:
            self.first = now
        self.arrivals.append(now - self.first)
        self.requests += 1
        if self.stall_after and self.requests == self.stall_after:
            self.stall_until = now + self.stall_s
        if self.stall_until is not None and now < self.stall_until:
            self.during_stall += 1
            await asyncio.sleep(self.stall_until - now)
        if self.service_s > 0:
            async with self.servers:
                await asyncio.sleep(self.service_s)
        try:
            records = len(json.loads(body)["Inputs"]["data"])
        except (ValueError, KeyError, TypeError):
            records = 0
        return json.dumps({"Results": [0] * records}).encode()

    def stats(self) -> bytes:
        return json.dumps(
            {"requests": self.requests, "during_stall": self.during_stall, "arrivals": self.arrivals}
        ).encode()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers: dict[str, Any] = {}
                for line in lines[1:]:
                    if ":" in line:
                        key, value = line.split(":", 1)
                        headers[key.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                if method == "GET" and path.endswith("/stats"):
                    answer = self.stats()
                elif method == "POST" and path.rstrip("/").endswith("score"):
                    answer = await self.score(body)
                else:
                    answer = b'"Healthy"'
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(answer)).encode()
                    + b"\r\n\r\n"
                    + answer
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--service-ms", type=float, default=0.0)
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument("--stall-after", type=int, default=0)
    parser.add_argument("--stall-s", type=float, default=2.0)
    args = parser.parse_args()
    toy = Toy(args)
    server = await asyncio.start_server(toy.handle, "127.0.0.1", args.port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
