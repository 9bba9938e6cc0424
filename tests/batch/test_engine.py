"""Engine behaviour the real endpoint cannot be made to show on demand: a model that refuses one row of a batch.

The local endpoint's model accepts every record our validation accepts, so a 424 for one bad row inside a batch
needs a mock transport; the test checks that the batch is bisected down to that row and every other row scored.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bankmarketing_client.batch import score_file
from bankmarketing_client.client import AsyncScoringClient
from bankmarketing_client.errors import ModelError
from bankmarketing_client.retry import RetryPolicy
from batch.batch_support import WriteSubset, read_csv_rows

POISON_AGE = 77


def _handler(request: httpx.Request) -> httpx.Response:
    records = json.loads(request.content)["Inputs"]["data"]
    if any(record["age"] == POISON_AGE for record in records):
        headers = {"ms-azureml-model-error-statuscode": "500", "ms-azureml-model-error-reason": "boom"}
        return httpx.Response(424, json={"message": "An unexpected error occurred in scoring script"}, headers=headers)
    return httpx.Response(200, json={"Results": [[0.75, 0.25] for _ in records]})


def test_a_row_the_model_refuses_is_isolated_by_bisection(write_subset: WriteSubset, tmp_path: Path) -> None:
    source = write_subset(rows=64)
    lines = source.read_text().splitlines()
    header = lines[0].split(",")
    row = lines[30].split(",")
    row[header.index("age")] = str(POISON_AGE)
    lines[30] = ",".join(row)
    source.write_text("\n".join(lines) + "\n")
    client = AsyncScoringClient(
        "https://scoring.invalid/score",
        "key",
        contract="inputs",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(_handler)),
    )
    errors = tmp_path / "errors.csv"
    summary = score_file(source, tmp_path / "out.csv", errors=errors, client=client, batch_size=64)
    assert (summary.scored, summary.failed, summary.rejected) == (63, 1, 0)
    assert [(r["row"], r["field"]) for r in read_csv_rows(errors)] == [("30", "(endpoint)")]
    out = read_csv_rows(tmp_path / "out.csv")
    assert [r["prediction"] for r in out].count("") == 1
    assert out[29]["prediction"] == ""


class _Burst:
    """Answers the first ``failures`` requests with a 424 wrapping a transient container status, then scores.

    A mock, because the real front only says 424 for what the container answered, and the real container never
    answers 503/504/429 on demand (the local fault injection answers 503 at the front, unwrapped).
    """

    def __init__(self, failures: int, wrapped: int) -> None:
        self.failures = failures
        self.wrapped = wrapped
        self.sizes: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        records = json.loads(request.content)["Inputs"]["data"]
        self.sizes.append(len(records))
        if len(self.sizes) <= self.failures:
            headers = {"ms-azureml-model-error-statuscode": str(self.wrapped), "ms-azureml-model-error-reason": "busy"}
            return httpx.Response(424, json={"message": "upstream busy"}, headers=headers)
        return httpx.Response(200, json={"Results": [[0.75, 0.25] for _ in records]})


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> AsyncScoringClient:
    transport = httpx.MockTransport(handler)
    return AsyncScoringClient(
        "https://scoring.invalid/score",
        "key",
        contract="inputs",
        retry=RetryPolicy.no_retries(),  # the engine's own policy must be what retries its chunks
        http_client=httpx.AsyncClient(transport=transport),
    )


@pytest.mark.parametrize("wrapped", [503, 429, 504])
def test_a_424_wrapping_a_transient_status_is_retried_whole_not_split(
    write_subset: WriteSubset, tmp_path: Path, wrapped: int
) -> None:
    burst = _Burst(failures=3, wrapped=wrapped)
    summary = score_file(write_subset(rows=64), tmp_path / "out.csv", client=_client(burst), batch_size=64)
    assert (summary.scored, summary.failed, summary.rejected) == (64, 0, 0)
    assert burst.sizes == [64, 64, 64, 64]  # the same chunk, sent again whole
    assert summary.retries == 3
    assert not (tmp_path / "out.errors.csv").exists()


def test_a_transient_answer_that_never_ends_stops_the_run_and_fails_no_row(tmp_path: Path) -> None:
    import pyarrow as pa

    from bankmarketing_client.batch.engine import Sender
    from bankmarketing_client.batch.tuner import Tuner
    from bankmarketing_client.contract import Contract

    burst = _Burst(failures=1_000, wrapped=503)
    policy = RetryPolicy(max_attempts=3, deadline=None, backoff_base=0.01, backoff_max=0.01)

    async def run() -> None:
        client = _client(burst)
        sender = Sender(client, Contract.of("inputs"), proba=True, tuner=Tuner(), policy=policy)
        records = pa.array(['{"age": 1}'] * 8, pa.string())
        with pytest.raises(ModelError, match="container status 503"):
            await sender.score(records)
        assert sender.waiting == 0
        assert sender.retries == 2
        await client.aclose()

    asyncio.run(run())
    assert burst.sizes == [8, 8, 8]  # the policy's attempts, never a split


def test_the_engine_paces_its_retries_by_the_servers_retry_after(caplog: pytest.LogCaptureFixture) -> None:
    """The engine's policy, run by the client's core, waits the 429's ``retry_after`` (0.01 s), where the backoff
    (pinned at 50 s) would cross the 5 s deadline and stop after the first attempt; the hook tells the tuner."""
    import logging

    import pyarrow as pa

    from bankmarketing_client.batch.engine import Sender
    from bankmarketing_client.batch.tuner import Tuner
    from bankmarketing_client.contract import Contract

    sizes: list[int] = []

    def throttle_twice(request: httpx.Request) -> httpx.Response:
        records = json.loads(request.content)["Inputs"]["data"]
        sizes.append(len(records))
        if len(sizes) <= 2:
            return httpx.Response(429, json={"message": "too many"}, headers={"Retry-After": "0.01"})
        return httpx.Response(200, json={"Results": [[0.75, 0.25] for _ in records]})

    policy = RetryPolicy(max_attempts=4, deadline=5.0, backoff_base=50.0, backoff_max=50.0, rng=lambda _low, high: high)

    tuner = Tuner()
    concurrency = tuner.concurrency

    async def run() -> int:
        client = _client(throttle_twice)
        sender = Sender(client, Contract.of("inputs"), proba=True, tuner=tuner, policy=policy)
        answer = await sender.score(pa.array(['{"age": 1}'] * 8, pa.string()))
        await client.aclose()
        assert answer.failures == []
        assert sender.waiting == 0
        return sender.retries

    with caplog.at_level(logging.WARNING, logger="bankmarketing_client.retry"):
        assert asyncio.run(run()) == 2
    assert sizes == [8, 8, 8]
    assert [m.split("waiting ")[1] for m in caplog.messages if "HTTP 429" in m] == ["0.01 s", "0.01 s"]
    assert tuner.concurrency == max(1, concurrency - 2)  # each 429 told the tuner to send less
