"""Shared helpers for the benchmark scripts: run wrk with a POST body and parse its figures."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{auth}
local f = io.open("{body}", "rb")
wrk.body = f:read("*a")
f:close()
local non2xx = 0
response = function(status, headers, body)
  if status ~= 200 then non2xx = non2xx + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("NON2XX %d\\n", non2xx))
end
"""


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


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


def run_wrk(url: str, body: bytes, *, connections: int, seconds: float, key: str | None = None) -> WrkResult:
    """``wrk`` with one thread per connection up to 2, POSTing ``body``; non-2xx answers count as errors."""
    with tempfile.TemporaryDirectory() as tmp:
        body_path = Path(tmp) / "body.json"
        body_path.write_bytes(body)
        auth = f'wrk.headers["Authorization"] = "Bearer {key}"' if key else ""
        script = Path(tmp) / "post.lua"
        script.write_text(LUA.format(auth=auth, body=body_path))
        out = subprocess.run(
            [require("wrk"), "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
             "--timeout", "30s", "--latency", "-s", str(script), url],
            capture_output=True, text=True, check=True, timeout=seconds + 60,
        ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    socket_errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = int(re.search(r"NON2XX (\d+)", out).group(1))  # type: ignore[union-attr]
    return WrkResult(rps, p50, p99, total, socket_errors + non2xx)
