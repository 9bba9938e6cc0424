"""Client overhead per request: ScoringClient / AsyncScoringClient against raw httpx posting the same bytes.

Both sides talk to the same endpoint over keep-alive connections, one request at a time, in interleaved rounds
(raw, client, raw, client, ...) so that drift on a shared machine hits both alike. The client does everything a
user gets (record validation, body building, auth flow, request ids, retry wrapper, decoding into typed
predictions); the raw side posts pre-encoded bytes and only checks the status. The raw side sends the same
headers (with fresh request ids), so that the server does identical work and the difference is the client's
own. Prints per-request latency for each and the ratio client/raw (the aim is <= 1.10).

    python bench/bench_client_overhead.py                 # starts a local endpoint (inputs contract)
    python bench/bench_client_overhead.py --contract data --rounds 10 --per-round 40
    BANKMARKETING_SCORING_URI=... BANKMARKETING_API_KEY=... python bench/bench_client_overhead.py --external
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bankmarketing_client import AsyncScoringClient, ScoringClient
from bankmarketing_client.contract import Contract, encode, read_records_file

SAMPLE = "data-2021-06-schema-order.json"


def _records() -> list[dict[str, Any]]:
    data_file = os.environ.get("BANKMARKETING_DATA", "../shared/data/bankmarketing_train.csv")
    return read_records_file(Path(data_file).parent / "azure-samples" / SAMPLE, what="the Azure sample")


@contextmanager
def _endpoint(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    if args.external:
        yield os.environ["BANKMARKETING_SCORING_URI"], os.environ["BANKMARKETING_API_KEY"]
        return
    from bankmarketing_client.local.endpoint import LocalEndpoint

    with LocalEndpoint(contract=args.contract, worker_count=args.workers) as endpoint:
        yield endpoint.scoring_uri, endpoint.primary_key


def _raw_headers(key: str) -> dict[str, str]:
    """What the client sends besides the body: auth, content type, and two request ids the server logs."""
    return {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "Accept": "application/json",
        "x-request-id": str(uuid.uuid4()),
        "x-ms-client-request-id": str(uuid.uuid4()),
    }


Sample = tuple[float, float]  # (wall seconds, CPU seconds of this process) for one request


def _timed(call: Callable[[], object], count: int) -> list[Sample]:
    samples = []
    for _ in range(count):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        samples.append((time.perf_counter() - wall, time.process_time() - cpu))
    return samples


async def _atimed(call: Callable[[], Awaitable[object]], count: int) -> list[Sample]:
    samples = []
    for _ in range(count):
        wall, cpu = time.perf_counter(), time.process_time()
        await call()
        samples.append((time.perf_counter() - wall, time.process_time() - cpu))
    return samples


def _row(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[int(len(ms) * 0.95) - 1]
    return f"  {name:<28} n={len(ms):<5} mean {statistics.fmean(ms):7.2f} ms  median {ms[len(ms) // 2]:7.2f} ms  p95 {p95:7.2f} ms"


def _report(title: str, raw_samples: list[Sample], client_samples: list[Sample]) -> float:
    raw = [wall for wall, _ in raw_samples]
    client = [wall for wall, _ in client_samples]
    raw_cpu = statistics.fmean(cpu for _, cpu in raw_samples) * 1e6
    client_cpu = statistics.fmean(cpu for _, cpu in client_samples) * 1e6
    ratio_mean = statistics.fmean(client) / statistics.fmean(raw)
    ratio_median = statistics.median(client) / statistics.median(raw)
    extra_us = statistics.median(c - r for c, r in zip(client, raw, strict=True)) * 1e6  # paired
    print(title)
    print(_row("raw httpx (same bytes)", raw))
    print(_row("bankmarketing client", client))
    print(
        f"  ratio client/raw: mean {ratio_mean:.3f}, median {ratio_median:.3f}; paired median extra {extra_us:.0f} us"
    )
    print(
        f"  client-process CPU per request: raw {raw_cpu:.0f} us, client {client_cpu:.0f} us "
        f"(+{client_cpu - raw_cpu:.0f} us; less sensitive to a busy machine than wall time)"
    )
    return ratio_median


def bench_sync(uri: str, key: str, records: list[dict[str, Any]], family: str, rounds: int, per_round: int) -> float:
    body = encode(Contract.of(family).build_body(records))
    raw_samples: list[Sample] = []
    client_samples: list[Sample] = []
    with httpx.Client() as raw_http, ScoringClient(uri, key, contract=family) as client:

        def raw() -> None:
            response = raw_http.post(uri, content=body, headers=_raw_headers(key))
            if response.status_code != 200:
                raise RuntimeError(f"raw request failed: {response.status_code}")

        def typed() -> None:
            client.predict(records)

        _timed(raw, 20)  # warm-up: connections, imports, caches
        _timed(typed, 20)
        for index in range(rounds * per_round):  # pairs, alternating which side goes first
            first, second = (raw, typed) if index % 2 == 0 else (typed, raw)
            a, b = _timed(first, 1)[0], _timed(second, 1)[0]
            raw_samples.append(a if first is raw else b)
            client_samples.append(b if first is raw else a)
    return _report(f"sync, {len(records)} records per request, contract {family}:", raw_samples, client_samples)


async def bench_async(
    uri: str, key: str, records: list[dict[str, Any]], family: str, rounds: int, per_round: int
) -> float:
    body = encode(Contract.of(family).build_body(records))
    raw_samples: list[Sample] = []
    client_samples: list[Sample] = []
    async with httpx.AsyncClient() as raw_http, AsyncScoringClient(uri, key, contract=family) as client:

        async def raw() -> None:
            response = await raw_http.post(uri, content=body, headers=_raw_headers(key))
            if response.status_code != 200:
                raise RuntimeError(f"raw request failed: {response.status_code}")

        async def typed() -> None:
            await client.predict(records)

        await _atimed(raw, 20)
        await _atimed(typed, 20)
        for index in range(rounds * per_round):
            afirst, asecond = (raw, typed) if index % 2 == 0 else (typed, raw)
            a, b = (await _atimed(afirst, 1))[0], (await _atimed(asecond, 1))[0]
            raw_samples.append(a if afirst is raw else b)
            client_samples.append(b if afirst is raw else a)
    return _report(f"async, {len(records)} records per request, contract {family}:", raw_samples, client_samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contract", choices=("inputs", "data"), default="inputs")
    parser.add_argument("--rounds", type=int, default=6, help="rounds of --per-round request pairs (default 6)")
    parser.add_argument("--per-round", type=int, default=40, help="request pairs per round (default 40)")
    parser.add_argument("--workers", type=int, default=1, help="container workers of the local endpoint")
    parser.add_argument("--external", action="store_true", help="use $BANKMARKETING_SCORING_URI instead")
    args = parser.parse_args()
    records = _records()
    with _endpoint(args) as (uri, key):
        print(f"endpoint {uri}; {args.rounds * args.per_round} request pairs per face, one request at a time\n")
        sync_ratio = bench_sync(uri, key, records, args.contract, args.rounds, args.per_round)
        print()
        async_ratio = asyncio.run(bench_async(uri, key, records, args.contract, args.rounds, args.per_round))
    print(f"\nmedian ratio client/raw: sync {sync_ratio:.3f}, async {async_ratio:.3f} (aim <= 1.10)")


if __name__ == "__main__":
    main()
