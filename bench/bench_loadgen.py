"""Is the load generator the bottleneck? ``ab``, ``wrk`` and the Locust scenario against one local endpoint.

All three post the same 2-record body (the original benchmark's size) with the same key at the same
concurrency for the same time, one after the other, against one :class:`LocalEndpoint` started with room for
that concurrency (``max_pending`` and ``max_concurrent_requests_per_instance`` raised: the Azure-like defaults
would answer 429 past 4 pending requests). It prints req/s side by side with the ratio to ``wrk``: a Locust
ratio near 1 means Locust measures the endpoint, not itself.

Then it measures Locust's own ceiling per process: ``HealthUser`` (requests plus answer checks) against a
trivial keep-alive server that answers ``Healthy`` to everything, next to ``wrk`` against the same server.

Run: ``.venv/bin/python bench/bench_loadgen.py [--concurrency 8] [--duration 10]`` (needs ``ab``, ``wrk``
and ``$BANKMARKETING_DATA``). Figures from a shared 2-core machine are indicative.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import _wrk  # bench/ holds top-level modules

REPO = Path(__file__).resolve().parents[1]
LOADTEST = REPO / "loadtest"
SINK_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\nHealthy"


@dataclass
class Result:
    tool: str
    rps: float
    failures: int
    cpu_seconds: float = 0.0  # the generator's own CPU time (user + system) over the run
    seconds: float = 0.0

    @property
    def cpu_share(self) -> float:
        """Share of one core the generator used: far below 1 means it had room to send more."""
        return self.cpu_seconds / self.seconds if self.seconds else 0.0


def timed(command: list[str], timeout: float, **kwargs: Any) -> tuple[str, float]:
    """Run a generator; return its output and the CPU time it (and its children) used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    out = done.stdout + done.stderr
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return out, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


# -- the trivial server for Locust's ceiling -------------------------------------------------------------------


class _Sink(asyncio.Protocol):
    """Answers every request (GETs without bodies) with a fixed 200, keeping the connection open."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        count = self.buffer.count(b"\r\n\r\n")
        if count:
            self.buffer = self.buffer[self.buffer.rfind(b"\r\n\r\n") + 4 :]
            self.transport.write(SINK_ANSWER * count)


async def _serve_sink(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Sink, "127.0.0.1", port, backlog=1024)
    print("SINK READY", flush=True)
    async with server:
        await server.serve_forever()


def start_sink(port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, __file__, "--sink", str(port)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    if process.stdout.readline().strip() != "SINK READY":
        process.kill()
        raise SystemExit("the trivial server did not start")
    return process


# -- the tools --------------------------------------------------------------------------------------------------


def _number(pattern: str, text: str, default: float = 0.0) -> float:
    match = re.search(pattern, text)
    return float(match.group(1)) if match else default


def run_ab(url: str, body_file: Path, key: str, concurrency: int, duration: int, keepalive: bool) -> Result:
    command = ["ab", "-q", "-t", str(duration), "-n", "10000000", "-c", str(concurrency), "-p", str(body_file)]
    command += ["-T", "application/json", "-H", f"Authorization: Bearer {key}"]
    if keepalive:
        command.append("-k")
    out, cpu = timed([*command, url], duration + 60)
    failures = int(_number(r"Failed requests:\s+(\d+)", out) + _number(r"Non-2xx responses:\s+(\d+)", out))
    name = "ab -k (keep-alive)" if keepalive else "ab (HTTP/1.0 close, as benchmark.sh)"
    return Result(name, _number(r"Requests per second:\s+([\d.]+)", out), failures, cpu, duration)


def run_wrk(url: str, body: bytes | None, key: str, concurrency: int, duration: int) -> Result:
    """The shared runner (``bench/_wrk.py``): one thread, so its CPU share compares with one Locust process."""
    result = _wrk.run_wrk(url, body, connections=concurrency, seconds=duration, key=key, threads=1)
    return Result("wrk (keep-alive)", result.requests_per_second, result.failures, result.cpu_seconds, duration)


def run_locust(
    host: str, key: str, users: int, duration: int, user_class: str, workdir: Path, *extra: str, label: str
) -> Result:
    prefix = workdir / f"locust-{user_class}-{users}"
    command = [
        sys.executable, "-m", "locust", "-f", str(LOADTEST), "--headless", "-u", str(users), "-r", str(users * 10),
        "-t", f"{duration}s", "--host", host, "--only-summary", "--csv", str(prefix), *extra, user_class,
    ]  # fmt: skip
    env = {**os.environ, "BANKMARKETING_API_KEY": key}
    out, cpu = timed(command, duration + 90, env=env, cwd=workdir)
    if "CPU usage above" in out:  # Locust's own warning that it is saturating its core
        label += " [Locust CPU warning]"
    with Path(f"{prefix}_stats.csv").open(newline="") as fh:
        total = next(row for row in csv.DictReader(fh) if row["Name"] == "Aggregated")
    return Result(label, float(total["Requests/s"]), int(total["Failure Count"]), cpu, duration)


# -- the report -------------------------------------------------------------------------------------------------


def median_result(results: list[Result]) -> Result:
    """The round with the median req/s (failures summed over all rounds)."""
    ordered = sorted(results, key=lambda r: r.rps)
    middle = ordered[len(ordered) // 2]
    return Result(middle.tool, middle.rps, sum(r.failures for r in results), middle.cpu_seconds, middle.seconds)


def table(results: list[Result], reference: Result) -> str:
    lines = [f"{'tool':<44}{'req/s':>10}{'failures':>10}{'ratio to wrk':>14}{'gen CPU/core*':>15}"]
    for r in results:
        ratio = r.rps / reference.rps if reference.rps else float("nan")
        lines.append(f"{r.tool:<44}{r.rps:>10.1f}{r.failures:>10}{ratio:>14.2f}{r.cpu_share:>15.2f}")
    lines.append("* generator CPU seconds per second of run, one core = 1.00 (Locust's includes its ~1-2 s start-up)")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=8, help="in-flight requests (ab -c, wrk -c, Locust -u)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per tool and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is reported")
    parser.add_argument("--ceiling-users", type=int, default=32, help="Locust users against the trivial server")
    parser.add_argument(
        "--model-delay-ms",
        type=float,
        default=0,
        help="make each prediction sleep this long: an endpoint that waits instead of burning the shared cores",
    )
    parser.add_argument("--skip-ceiling", action="store_true")
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        asyncio.run(_serve_sink(args.sink))
        return 0
    missing = [tool for tool in ("ab", "wrk") if shutil.which(tool) is None]
    if missing:
        print(f"missing: {', '.join(missing)} (apt-get install apache2-utils wrk)", file=sys.stderr)
        return 2

    sys.path.insert(0, str(LOADTEST))
    import _payloads

    from bankmarketing_client.local.endpoint import LocalEndpoint
    from bankmarketing_client.local.process import free_port

    c, seconds = args.concurrency, args.duration
    records = _payloads.sample_records(_payloads.BENCHMARK_RECORDS, seed=42)
    body = _payloads.build_body(records, "inputs", "predict").data
    with (
        tempfile.TemporaryDirectory(prefix="bench-loadgen-") as tmp,
        LocalEndpoint(
            contract="inputs",
            max_concurrent_requests_per_instance=c,
            max_pending=4 * c,
            model_delay_ms=args.model_delay_ms,
        ) as ep,
    ):
        work = Path(tmp)
        body_file = work / "data.json"
        body_file.write_bytes(body)
        key = ep.primary_key
        print(
            f"endpoint: local, inputs contract, {ep.worker_count} container workers, max_pending {4 * c}, "
            f"model delay {args.model_delay_ms:g} ms"
        )
        print(
            f"load: {len(records)}-record body ({len(body)} bytes), concurrency {c}, {seconds} s per tool and round\n"
        )
        rounds: list[list[Result]] = []
        for number in range(1, args.rounds + 1):
            # Interleaved rounds: the machine is shared, so one tool must not get a quiet minute to itself.
            rounds.append(
                [
                    run_wrk(ep.scoring_uri, body, key, c, seconds),
                    run_ab(ep.scoring_uri, body_file, key, c, seconds, keepalive=False),
                    run_ab(ep.scoring_uri, body_file, key, c, seconds, keepalive=True),
                    run_locust(
                        ep.base_url, key, c, seconds, "BenchmarkUser", work,
                        "--payload", str(body_file), "--contract", "inputs",
                        label=f"locust BenchmarkUser (-u {c}, 1 process)",
                    ),
                ]
            )  # fmt: skip
            print(f"round {number}: " + ", ".join(f"{r.tool.split(' (')[0]} {r.rps:.0f}" for r in rounds[-1]))
        medians = [median_result([r[i] for r in rounds]) for i in range(len(rounds[0]))]
        print(f"\nmedian of {args.rounds} interleaved rounds:")
        print(table(medians, medians[0]))
        ratios = [r[3].rps / r[0].rps for r in rounds if r[0].rps]
        print("Locust/wrk per round: " + ", ".join(f"{x:.2f}" for x in ratios))
        print(f"\nfront counters after the runs: {ep.stats()}")

    if not args.skip_ceiling:
        port = free_port()
        sink = start_sink(port)
        try:
            with tempfile.TemporaryDirectory(prefix="bench-loadgen-") as tmp:
                work = Path(tmp)
                url = f"http://127.0.0.1:{port}"
                sink_wrk = run_wrk(url + "/", None, "unused", args.ceiling_users, seconds)
                sink_wrk.tool = "wrk vs trivial server"
                ceiling = run_locust(
                    url, "unused", args.ceiling_users, seconds, "HealthUser", work, "--contract", "inputs",
                    label=f"locust HealthUser (-u {args.ceiling_users}, 1 process)",
                )  # fmt: skip
                print(f"\nLocust's own ceiling per process (trivial keep-alive server, {seconds} s):")
                print(table([sink_wrk, ceiling], sink_wrk))
        finally:
            sink.terminate()
            sink.wait(timeout=10)
    print(
        "\nthe seed's benchmark.sh:  ab -n 10 -v 4 -p data.json -T 'application/json' "
        "-H 'Authorization: Bearer KEY' http://HOST/score"
        "\nits Locust equivalent:    BANKMARKETING_API_KEY=KEY locust -f loadtest --headless -u 1 -r 1 "
        "--max-requests 10 --show-responses --payload data.json --host http://HOST/score BenchmarkUser"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
