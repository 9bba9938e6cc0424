"""The one ``wrk`` runner of the benchmark scripts: a POST with a body (or a GET), its figures parsed.

Failures are counted one way for every script: answers whose status is not 2xx (counted in Lua, per thread:
wrk's own "Non-2xx or 3xx" line only counts statuses above 399) plus every socket error wrk reports (connect,
read, write, timeout). The Lua ``response`` hook costs wrk some CPU per answer; every script pays it alike.
"""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Thread states count their own non-2xx answers; ``done`` runs in the main state and sums them.
LUA_COUNT = """
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  non2xx = 0
end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("non2xx") end
  io.write(string.format("NON2XX %d\\n", total))
end
"""
LUA_POST = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("{body}", "rb")
wrk.body = f:read("*a")
f:close()
"""


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non2xx: int
    socket_errors: int
    #: wrk's own CPU time (user + system) over the run: far below ``seconds`` x threads means it had room to spare.
    cpu_seconds: float
    seconds: float

    @property
    def failures(self) -> int:
        """Answers that were not 2xx, plus requests lost to socket errors (connect, read, write, timeout)."""
        return self.non2xx + self.socket_errors


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise SystemExit(f"{tool} is needed (Debian: apt-get install apache2-utils wrk)")
    return path


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        return float("nan")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _figure(pattern: str, text: str) -> str:
    match = re.search(pattern, text, re.M)
    if match is None:
        raise SystemExit(f"wrk's output has no match for {pattern!r}:\n{text[-2000:]}")
    return match.group(1)


def run_wrk(
    url: str,
    body: bytes | None,
    *,
    connections: int,
    seconds: float,
    key: str | None = None,
    threads: int | None = None,
) -> WrkResult:
    """``wrk`` POSTing ``body`` (a GET when ``None``) with ``threads`` threads (default: one per connection up to 2).

    The key travels in a Lua script inside a private temporary folder, never in argv.
    """
    threads = threads or min(2, connections)
    duration = max(1, round(seconds))
    with tempfile.TemporaryDirectory() as tmp:
        lua = LUA_COUNT
        if body is not None:
            body_path = Path(tmp) / "body.json"
            body_path.write_bytes(body)
            lua += LUA_POST.format(body=body_path)
        if key:
            lua += f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        script = Path(tmp) / "script.lua"
        script.write_text(lua)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(
            [require("wrk"), "-t", str(threads), "-c", str(connections), "-d", f"{duration}s",
             "--timeout", "30s", "--latency", "-s", str(script), url],
            capture_output=True, text=True, check=True, timeout=duration + 60,
        ).stdout  # fmt: skip
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    socket_errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return WrkResult(
        requests_per_second=float(_figure(r"Requests/sec:\s+([\d.]+)", out)),
        p50_ms=_ms(_figure(r"^\s+50%\s+(\S+)", out)),
        p99_ms=_ms(_figure(r"^\s+99%\s+(\S+)", out)),
        requests=int(_figure(r"(\d+) requests in", out)),
        non2xx=int(_figure(r"NON2XX (\d+)", out)),
        socket_errors=socket_errors,
        cpu_seconds=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        seconds=duration,
    )
