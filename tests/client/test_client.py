"""The client against the real local endpoint (container + Azure-like front), both contract families.

Mock transports appear only in the last section, each for a case the real server cannot produce (said there).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from typing import Any

import httpx
import pytest
from scoring_helpers import (
    AsyncRecordingTransport,
    RecordingTransport,
    TrickleServer,
    container_results,
    requests_seen,
)

from bankmarketing_client import AsyncScoringClient, ScoringClient
from bankmarketing_client.client import Timeouts
from bankmarketing_client.contract import Contract, decode_results
from bankmarketing_client.errors import (
    ConfigurationError,
    ModelError,
    PayloadTooLargeError,
    RateLimitedError,
    RecordValidationError,
    RequestTimeoutError,
    ServiceUnavailableError,
    UnexpectedResponseError,
)
from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.local.faults import FaultSpec
from bankmarketing_client.local.pytest_plugin import EndpointFactory
from bankmarketing_client.retry import RetryPolicy

pytest_plugins = ["scoring_support"]

Records = list[dict[str, Any]]
FAMILIES = ["inputs", "data"]

#: Fast, deterministic retries for fault tests: the wait is always the top of the jitter range, and with 12
#: attempts a call fails only after 12 faults in a row (about 2e-6 at the injected 34 % fault rate).
FAST = RetryPolicy(max_attempts=12, deadline=30.0, backoff_base=0.02, backoff_max=0.1, rng=lambda _low, high: high)


def _endpoint(request: pytest.FixtureRequest, family: str) -> LocalEndpoint:
    endpoint: LocalEndpoint = request.getfixturevalue(f"endpoint_{family}")
    return endpoint


def _chunks(records: Records, size: int) -> list[Records]:
    return [records[i : i + size] for i in range(0, len(records), size)]


# -- correct answers -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_predictions_match_the_container_and_the_inputs(
    request: pytest.FixtureRequest, holdout_records: Records, family: str
) -> None:
    endpoint = _endpoint(request, family)
    truth = container_results(endpoint, holdout_records)
    with ScoringClient(endpoint.scoring_uri, endpoint.primary_key) as client:
        predictions = client.predict(holdout_records)
        assert client.contract == Contract(family)
    assert [p.label for p in predictions] == truth
    assert [p.row for p in predictions] == list(range(1, len(holdout_records) + 1))
    assert {"yes", "no"} <= set(truth)  # the check can tell a wrong label apart


@pytest.mark.parametrize("family", FAMILIES)
def test_async_face_with_a_concurrency_limit(
    request: pytest.FixtureRequest, holdout_records: Records, family: str
) -> None:
    endpoint = _endpoint(request, family)
    truth = container_results(endpoint, holdout_records)
    transport = AsyncRecordingTransport()

    async def run() -> list[str]:
        http = httpx.AsyncClient(transport=transport)
        async with AsyncScoringClient(
            endpoint.scoring_uri, endpoint.primary_key, contract=family, max_concurrency=2, http_client=http
        ) as client:
            batches = _chunks(holdout_records, 6)
            starts = range(1, len(holdout_records) + 1, 6)
            results = await asyncio.gather(
                *(client.predict(b, start_row=s) for b, s in zip(batches, starts, strict=True))
            )
        rows = [p for batch in results for p in batch]
        assert [p.row for p in rows] == list(range(1, len(holdout_records) + 1))
        return [p.label for p in rows]

    assert asyncio.run(run()) == truth
    assert len(transport.sent) == 10
    assert transport.max_in_flight <= 2


def test_predict_proba_matches_the_model(endpoint_inputs: LocalEndpoint, holdout_records: Records) -> None:
    pairs = container_results(endpoint_inputs, holdout_records, method="predict_proba")
    labels = container_results(endpoint_inputs, holdout_records)
    with ScoringClient(endpoint_inputs.scoring_uri, endpoint_inputs.primary_key) as client:
        predictions = client.predict_proba(holdout_records)
    assert [p.probability for p in predictions] == [pair[1] for pair in pairs]
    assert [p.label for p in predictions] == labels


def test_predict_proba_on_a_data_endpoint_is_refused_before_sending(
    endpoint_data: LocalEndpoint, sample_records: Records
) -> None:
    before = requests_seen(endpoint_data)
    with (
        ScoringClient(endpoint_data.scoring_uri, endpoint_data.primary_key) as client,
        pytest.raises(ConfigurationError, match="predict_proba needs an 'inputs' endpoint"),
    ):
        client.predict_proba(sample_records)
    assert requests_seen(endpoint_data) == before


@pytest.mark.parametrize("family", FAMILIES)
def test_health_swagger_and_raw_requests(
    request: pytest.FixtureRequest, load_sample: Any, family: str, recording: RecordingTransport
) -> None:
    endpoint = _endpoint(request, family)
    sample = (
        load_sample("data-2023-07-inputs-globalparams-benchmarked.json")
        if family == "inputs"
        else load_sample("data-2020-08-udacity-starter.json")
    )
    with ScoringClient(endpoint.scoring_uri, endpoint.primary_key, http_client=httpx.Client(transport=recording)) as c:
        assert c.health() == "Healthy"
        assert c.swagger()["swagger"] == "2.0"
        assert c.swagger(version=3)["openapi"] == "3.0.3"
        sent = len(recording.sent)
        with pytest.raises(ConfigurationError, match="swagger version must be one of 2, 3"):
            c.swagger(version="4")  # the generated operation's typed parameter: checked before sending
        assert len(recording.sent) == sent
        raw = c.request(sample)
        for _ in range(3):
            c.predict(sample["Inputs"]["data"] if family == "inputs" else sample["data"])
    assert raw.status == 200
    assert raw.request_id == recording.sent[3].headers["x-request-id"]
    assert decode_results(raw.content) == ["yes", "no"]
    swagger_gets = [r for r in recording.sent if r.url.path == "/swagger.json"]
    assert len(swagger_gets) == 3  # two asked for, one for contract detection, reused afterwards


# -- refused before sending ------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_bad_records_are_rejected_with_no_request_sent(
    request: pytest.FixtureRequest, sample_records: Records, family: str, recording: RecordingTransport
) -> None:
    endpoint = _endpoint(request, family)
    bad = [dict(r) for r in sample_records] + [dict(sample_records[0])]
    bad[1]["job"] = "astronaut"
    del bad[2]["age"]
    before = requests_seen(endpoint)
    with (
        ScoringClient(endpoint.scoring_uri, endpoint.primary_key, http_client=httpx.Client(transport=recording)) as c,
        pytest.raises(RecordValidationError) as caught,
    ):
        c.predict(bad)
    assert [(e.row, e.field) for e in caught.value.errors] == [(2, "job"), (3, "age")]
    assert "'astronaut' is not one of" in str(caught.value)
    assert [r.url.path for r in recording.sent] == ["/swagger.json"]  # contract detection only, no /score
    assert requests_seen(endpoint) == before


def test_empty_batches_are_refused(endpoint_inputs: LocalEndpoint) -> None:
    with (
        ScoringClient(endpoint_inputs.scoring_uri, endpoint_inputs.primary_key, contract="inputs") as client,
        pytest.raises(ConfigurationError, match="no records"),
    ):
        client.predict([])


# -- errors raised at once -------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_424_model_failure_is_raised_at_once(
    request: pytest.FixtureRequest, sample_records: Records, family: str
) -> None:
    """A record with a column missing fails at the container (400 naming the field since score.py checks its
    arguments, 500 before): a status that is not transient, so the front's 424 is raised at once."""
    endpoint = _endpoint(request, family)
    short = {k: v for k, v in sample_records[0].items() if k != "age"}
    body: dict[str, Any] = {"Inputs": {"data": [short]}} if family == "inputs" else {"data": [short]}
    before = endpoint.stats()
    with (
        ScoringClient(endpoint.scoring_uri, endpoint.primary_key, retry=RetryPolicy(max_attempts=5)) as client,
        pytest.raises(ModelError, match=r"container status (400|500)") as caught,
    ):
        client.request(body)
    after = endpoint.stats()
    assert caught.value.status == 424
    assert caught.value.request_id
    assert after.get("424", 0) - before.get("424", 0) == 1
    assert after.get("requests", 0) - before.get("requests", 0) == 1


def test_data_family_error_inside_a_200_is_a_model_error(endpoint_data: LocalEndpoint, sample_records: Records) -> None:
    """The classic AutoML script answers 200 with a double-encoded {"error": ...}: the decoder must raise."""
    wrong_type = dict(sample_records[0], age="seventeen")
    with ScoringClient(endpoint_data.scoring_uri, endpoint_data.primary_key) as client:
        raw = client.request({"data": [wrong_type]})
    assert raw.status == 200
    assert isinstance(raw.json(), str)  # double-encoded
    with pytest.raises(ModelError, match="age"):
        decode_results(raw.content)


def test_payload_too_large_is_raised_at_once(slow_inputs: LocalEndpoint, holdout_records: Records) -> None:
    before = slow_inputs.stats()
    with (
        ScoringClient(slow_inputs.scoring_uri, slow_inputs.primary_key, contract="inputs", retry=FAST) as client,
        pytest.raises(PayloadTooLargeError, match="send fewer records") as caught,
    ):
        client.predict(holdout_records[:30])
    after = slow_inputs.stats()
    assert caught.value.status == 413
    assert after.get("requests", 0) - before.get("requests", 0) == 1


# -- timeouts and the deadline ---------------------------------------------------------------------------------


def test_408_is_retried_until_the_deadline(slow_inputs: LocalEndpoint, sample_records: Records) -> None:
    policy = RetryPolicy(max_attempts=50, deadline=2.0, backoff_base=0.05, backoff_max=0.05)
    before = slow_inputs.stats()
    with (
        ScoringClient(slow_inputs.scoring_uri, slow_inputs.primary_key, contract="inputs", retry=policy) as client,
        pytest.raises(RequestTimeoutError),
    ):
        client.predict(sample_records)
    after = slow_inputs.stats()
    timeouts = after.get("408", 0) - before.get("408", 0)
    sent = after.get("requests", 0) - before.get("requests", 0)
    assert timeouts >= 2  # retried...
    assert sent < 50  # ...but stopped by the deadline, not by the attempt count


def test_408_without_retries_carries_the_status(slow_inputs: LocalEndpoint, sample_records: Records) -> None:
    with (
        ScoringClient(
            slow_inputs.scoring_uri, slow_inputs.primary_key, contract="inputs", retry=RetryPolicy.no_retries()
        ) as client,
        pytest.raises(RequestTimeoutError, match="timed the request out") as caught,
    ):
        client.predict(sample_records)
    assert caught.value.status == 408


def test_the_clients_own_read_timeout(slow_inputs: LocalEndpoint, sample_records: Records) -> None:
    with (
        ScoringClient(
            slow_inputs.scoring_uri,
            slow_inputs.primary_key,
            contract="inputs",
            timeouts=Timeouts(read=0.1),
            retry=RetryPolicy(max_attempts=2, backoff_base=0.0),
        ) as client,
        pytest.raises(RequestTimeoutError, match="read timeout") as caught,
    ):
        client.predict(sample_records)
    assert caught.value.status is None
    assert caught.value.request_id  # the id of the attempt, for the server's logs


def test_connection_refused_is_retried_then_raised(sample_records: Records, recording: RecordingTransport) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        ScoringClient(
            f"http://127.0.0.1:{port}/score",
            "k",
            contract="inputs",
            retry=RetryPolicy(max_attempts=3, backoff_base=0.01),
            http_client=httpx.Client(transport=recording),
        ) as client,
        pytest.raises(ServiceUnavailableError, match="could not reach") as caught,
    ):
        client.predict(sample_records)
    assert len(recording.sent) == 3
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


# -- injected faults, retried to success -----------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_faults_are_retried_to_correct_predictions(
    request: pytest.FixtureRequest,
    holdout_records: Records,
    family: str,
    recording: RecordingTransport,
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint: LocalEndpoint = request.getfixturevalue(f"faulty_{family}")
    truth = container_results(endpoint, holdout_records)
    before = endpoint.stats()
    batches = _chunks(holdout_records, 2)
    with (
        caplog.at_level(logging.WARNING, logger="bankmarketing_client.retry"),
        ScoringClient(
            endpoint.scoring_uri,
            endpoint.primary_key,
            contract=family,
            retry=FAST,
            http_client=httpx.Client(transport=recording),
        ) as client,
    ):
        labels = [p.label for batch in batches for p in client.predict(batch)]
    after = endpoint.stats()
    assert labels == truth
    for fault in ("fault_503", "fault_429", "fault_reset"):
        assert after.get(fault, 0) - before.get(fault, 0) > 0, fault

    # Request ids: one client id per call kept across its retries, a fresh x-request-id per attempt.
    attempts: dict[str, list[str]] = defaultdict(list)
    for sent in recording.sent:
        attempts[sent.headers["x-ms-client-request-id"]].append(sent.headers["x-request-id"])
    assert len(attempts) == len(batches)
    assert all(len(set(ids)) == len(ids) for ids in attempts.values())
    retried_ids = {i for ids in attempts.values() for i in ids[:-1]}
    assert len(caplog.records) == len(retried_ids) > 0
    for record in caplog.records:  # every retry logged with the id of the attempt that failed
        logged = re.search(r"request id (\S+)\)", record.getMessage())
        assert logged is not None
        assert logged.group(1) in retried_ids
    # 429s waited the server's Retry-After (0.2 s), not the computed backoff (at most 0.1 s here).
    waits_429 = {m.group(1) for r in caplog.records if (m := re.search(r"HTTP 429.*waiting (\S+) s", r.getMessage()))}
    assert waits_429 == {"0.20"}


def test_sync_face_shared_by_threads(faulty_inputs: LocalEndpoint, holdout_records: Records) -> None:
    truth = container_results(faulty_inputs, holdout_records)
    transport = RecordingTransport()
    found: dict[int, list[str]] = {}
    with ScoringClient(
        faulty_inputs.scoring_uri,
        faulty_inputs.primary_key,
        contract="inputs",
        retry=FAST,
        max_concurrency=2,
        http_client=httpx.Client(transport=transport),
    ) as client:

        def work(index: int, batch: Records) -> None:
            found[index] = [p.label for p in client.predict(batch)]

        threads = [threading.Thread(target=work, args=(i, b)) for i, b in enumerate(_chunks(holdout_records, 10))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert [label for i in sorted(found) for label in found[i]] == truth
    assert transport.max_in_flight <= 2


GEVENT_SCRIPT = """
from gevent import monkey
monkey.patch_all()
import json, os, sys
import gevent
from bankmarketing_client import ScoringClient
from bankmarketing_client.retry import RetryPolicy

records = json.loads(sys.stdin.read())
client = ScoringClient(contract="inputs", max_concurrency=3,
                       retry=RetryPolicy(max_attempts=12, backoff_base=0.02, backoff_max=0.1))
jobs = [gevent.spawn(client.predict, records[i:i + 5]) for i in range(0, len(records), 5)]
gevent.joinall(jobs, timeout=60, raise_error=True)
print(json.dumps([p.label for job in jobs for p in job.value]))
"""


def test_sync_face_under_gevent_like_locust(faulty_inputs: LocalEndpoint, holdout_records: Records) -> None:
    """Locust monkey-patches with gevent: the sync face must work in greenlets with no event loop."""
    records = holdout_records[:30]
    env = {
        **os.environ,
        "BANKMARKETING_SCORING_URI": faulty_inputs.scoring_uri,
        "BANKMARKETING_API_KEY": faulty_inputs.primary_key,
    }
    done = subprocess.run(
        [sys.executable, "-c", GEVENT_SCRIPT],
        input=json.dumps(records),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == container_results(faulty_inputs, records)


# -- configuration ---------------------------------------------------------------------------------------------


def test_score_json_answers_as_the_typed_call_does(endpoint_inputs: LocalEndpoint, holdout_records: Records) -> None:
    """The batch's path (records already serialised, answers as columns) and predict_proba agree row for row."""
    from bankmarketing_client.features import validate_records

    records = list(holdout_records)
    records_json = b"[%s]" % b",".join(r.model_dump_json(by_alias=True).encode() for r in validate_records(records))

    async def run() -> tuple[list[str], list[float], list[str], list[float | None]]:
        async with AsyncScoringClient(endpoint_inputs.scoring_uri, endpoint_inputs.primary_key) as client:
            columns = await client.score_json(records_json, len(records), proba=True)
            typed = await client.predict_proba(records)
        assert columns.client_request_id
        assert columns.elapsed > 0
        return columns.labels, columns.probabilities, [p.label for p in typed], [p.probability for p in typed]

    labels, probabilities, typed_labels, typed_probabilities = asyncio.run(run())
    assert labels == typed_labels
    assert probabilities == typed_probabilities


def test_from_env(monkeypatch: pytest.MonkeyPatch, endpoint_inputs: LocalEndpoint, sample_records: Records) -> None:
    monkeypatch.setenv("BANKMARKETING_SCORING_URI", endpoint_inputs.scoring_uri)
    monkeypatch.setenv("BANKMARKETING_API_KEY", endpoint_inputs.secondary_key)
    with ScoringClient.from_env() as client:
        assert [p.label for p in client.predict(sample_records)] == ["yes", "no"]
    monkeypatch.delenv("BANKMARKETING_SCORING_URI")
    with pytest.raises(ConfigurationError, match="BANKMARKETING_SCORING_URI"):
        ScoringClient.from_env()


@pytest.mark.parametrize("uri", ["ftp://host/score", "not a url", "http:///score"])
def test_bad_scoring_uris(uri: str) -> None:
    with pytest.raises(ConfigurationError, match="http"):
        ScoringClient(uri, "k")


def test_base_url_is_derived_from_the_scoring_uri() -> None:
    client = ScoringClient("https://svc.westeurope.inference.ml.azure.com/score?x=1", "k")
    assert client.scoring_uri == "https://svc.westeurope.inference.ml.azure.com/score"
    assert client._core.base_url == "https://svc.westeurope.inference.ml.azure.com/"
    client.close()


# -- cases the real server cannot produce (mock transports) ----------------------------------------------------


def test_retry_after_as_an_http_date(sample_records: Records, caplog: pytest.LogCaptureFixture) -> None:
    """Mock: the local front sends Retry-After only in seconds; Azure may send an HTTP date."""
    answers = iter(
        [
            httpx.Response(503, headers={"Retry-After": email.utils.formatdate(time.time() + 1, usegmt=True)}),
            httpx.Response(200, json={"Results": ["yes", "no"]}),
        ]
    )
    transport = httpx.MockTransport(lambda _request: next(answers))
    # Without the date the wait would be the backoff: 50 s, past the 10 s deadline, so the call would fail.
    policy = RetryPolicy(max_attempts=3, deadline=10, backoff_base=50, backoff_max=50, rng=lambda _low, high: high)
    with (
        caplog.at_level(logging.WARNING, logger="bankmarketing_client.retry"),
        ScoringClient(
            "https://mock/score", "k", contract="inputs", retry=policy, http_client=httpx.Client(transport=transport)
        ) as client,
    ):
        assert [p.label for p in client.predict(sample_records)] == ["yes", "no"]
    wait = float(re.findall(r"waiting (\S+) s", caplog.text)[0])
    assert 0.0 <= wait <= 1.0


def test_inputs_family_200_carrying_an_error(sample_records: Records) -> None:
    """Mock: the local inputs-family script raises on failure (500, then 424); some deployed scripts instead
    return 200 with {"error": ...}, which must raise, not be read as predictions."""
    calls: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"error": "model not loaded"}, headers={"x-ms-request-id": "srv-1"})

    transport = httpx.MockTransport(answer)
    with (
        ScoringClient(
            "https://mock/score", "k", contract="inputs", retry=FAST, http_client=httpx.Client(transport=transport)
        ) as client,
        pytest.raises(ModelError, match="model not loaded") as caught,
    ):
        client.predict(sample_records)
    assert caught.value.request_id == "srv-1"
    assert len(calls) == 1  # not retried


def test_424_wrapping_a_transient_container_status_is_retried(sample_records: Records) -> None:
    """Mock: the local container never answers 503 itself, so the front never wraps one in a 424."""
    answers = iter(
        [
            httpx.Response(424, headers={"ms-azureml-model-error-statuscode": "503"}, text="busy"),
            httpx.Response(200, json={"Results": ["yes", "no"]}),
        ]
    )
    transport = httpx.MockTransport(lambda _request: next(answers))
    with ScoringClient(
        "https://mock/score", "k", contract="inputs", retry=FAST, http_client=httpx.Client(transport=transport)
    ) as client:
        assert [p.label for p in client.predict(sample_records)] == ["yes", "no"]


def test_a_redirect_names_the_new_uri(sample_records: Records) -> None:
    """Mock: the local front never redirects; a moved Azure endpoint (http -> https) does."""
    transport = httpx.MockTransport(lambda _r: httpx.Response(301, headers={"location": "https://moved/score"}))
    with (
        ScoringClient(
            "https://mock/score", "k", contract="inputs", retry=FAST, http_client=httpx.Client(transport=transport)
        ) as client,
        pytest.raises(UnexpectedResponseError, match="redirects to https://moved/score") as caught,
    ):
        client.predict(sample_records)
    assert caught.value.status == 301


def test_an_undecodable_body_is_not_retried(sample_records: Records) -> None:
    """Mock: the local server always sends well-formed bodies; a broken proxy may send a corrupt gzip stream."""
    calls: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, headers={"content-encoding": "gzip"}, content=b"not gzip at all")

    with (
        ScoringClient(
            "https://mock/score",
            "k",
            contract="inputs",
            retry=FAST,
            http_client=httpx.Client(transport=httpx.MockTransport(answer)),
        ) as client,
        pytest.raises(UnexpectedResponseError, match="unreadable answer"),
    ):
        client.predict(sample_records)
    assert len(calls) == 1


def test_waiting_for_a_concurrency_slot_counts_against_the_deadline(
    endpoint_inputs: LocalEndpoint, sample_records: Records, recording: RecordingTransport
) -> None:
    policy = RetryPolicy(max_attempts=3, deadline=0.3)
    with ScoringClient(
        endpoint_inputs.scoring_uri,
        endpoint_inputs.primary_key,
        contract="inputs",
        max_concurrency=1,
        retry=policy,
        http_client=httpx.Client(transport=recording),
    ) as client:
        assert client._semaphore.acquire()  # another caller holds the only slot
        with pytest.raises(RequestTimeoutError, match=r"deadline of 0\.3 s exceeded"):
            client.predict(sample_records)
        client._semaphore.release()
        assert [p.label for p in client.predict(sample_records)] == ["yes", "no"]
    assert len(recording.sent) == 1  # only the second call went out


def test_async_slot_wait_counts_against_the_deadline(endpoint_inputs: LocalEndpoint, sample_records: Records) -> None:
    async def run() -> None:
        async with AsyncScoringClient(
            endpoint_inputs.scoring_uri,
            endpoint_inputs.primary_key,
            contract="inputs",
            max_concurrency=1,
            retry=RetryPolicy(deadline=0.3),
        ) as client:
            await client._semaphore.acquire()
            with pytest.raises(RequestTimeoutError, match="deadline"):
                await client.predict(sample_records)
            client._semaphore.release()
            assert [p.label for p in await client.predict(sample_records)] == ["yes", "no"]

    asyncio.run(run())


def test_contract_setting_and_credentials_in_the_uri_stay_out_of_reprs() -> None:
    with ScoringClient("https://user:pa55word@example.invalid/score", "k", contract="auto") as client:
        assert client.contract is None
        assert "pa55word" not in repr(client)
    with ScoringClient("https://example.invalid/score", "k", contract="data-method") as client:
        assert client.contract == Contract("data-method")
    with pytest.raises(ConfigurationError, match="unknown contract"):
        ScoringClient("https://example.invalid/score", "k", contract="xml")
    with pytest.raises(ConfigurationError, match="not a valid http"):
        ScoringClient("http://[::1/score", "k")


# -- an answer that trickles in (a loopback stand-in: the real front answers at once or not at all) ------------

TRICKLED_ANSWER = b'{"Results": ["yes", "no"]}'  # 26 bytes: 7.8 s at one byte every 0.3 s


def test_the_deadline_holds_while_an_answer_trickles_in(sample_records: Records) -> None:
    """Every read gets a byte within its read timeout, so only a bound on the whole attempt can stop it."""
    server = TrickleServer(TRICKLED_ANSWER)
    try:
        policy = RetryPolicy(max_attempts=3, deadline=1.5)
        with (
            ScoringClient(
                server.scoring_uri, "k", contract="inputs", timeouts=Timeouts(total=1.5), retry=policy
            ) as client,
            pytest.raises(RequestTimeoutError, match="within"),
        ):
            client.predict(sample_records)
        assert server.connections == 1  # the deadline was spent: no second attempt

        async def run() -> None:
            async with AsyncScoringClient(
                server.scoring_uri, "k", contract="inputs", timeouts=Timeouts(total=1.5), retry=policy
            ) as client:
                with pytest.raises(RequestTimeoutError, match="within"):
                    await client.predict(sample_records)

        asyncio.run(run())
        assert server.connections == 2
    finally:
        server.close()


def test_timeouts_total_bounds_each_attempt_while_an_answer_trickles_in(sample_records: Records) -> None:
    """No overall deadline: ``Timeouts.total`` alone must end each attempt, and the attempt is retried."""
    server = TrickleServer(TRICKLED_ANSWER)
    try:
        policy = RetryPolicy(max_attempts=2, deadline=None, backoff_base=0.05, backoff_max=0.05)
        with (
            ScoringClient(
                server.scoring_uri, "k", contract="inputs", timeouts=Timeouts(total=0.8), retry=policy
            ) as client,
            pytest.raises(RequestTimeoutError, match=r"within 0\.8 s"),
        ):
            client.predict(sample_records)
        assert server.connections == 2

        async def run() -> None:
            async with AsyncScoringClient(
                server.scoring_uri, "k", contract="inputs", timeouts=Timeouts(total=0.8), retry=policy
            ) as client:
                with pytest.raises(RequestTimeoutError, match=r"within 0\.8 s"):
                    await client.predict(sample_records)

        asyncio.run(run())
        assert server.connections == 4
    finally:
        server.close()


@pytest.mark.parametrize("own_http_client", [False, True], ids=["built-client", "given-httpx-client"])
def test_the_deadline_holds_while_the_status_line_and_headers_trickle_in(
    sample_records: Records, own_http_client: bool
) -> None:
    """A slow server: one byte of the head every 0.3 s (about a minute in all) against a 2 s deadline.

    Every read gets a byte well within its read timeout, so only a bound on the whole attempt can stop this,
    on both faces, with the same error. Checked by outcome, not by timing: the head was still trickling when
    the error came (the old sync face read the whole head, then raised).
    """
    server = TrickleServer(TRICKLED_ANSWER, trickle_head=True)
    policy = RetryPolicy(max_attempts=3, deadline=2.0)
    http = httpx.Client() if own_http_client else None
    try:
        with (
            ScoringClient(server.scoring_uri, "k", contract="inputs", retry=policy, http_client=http) as client,
            pytest.raises(RequestTimeoutError, match="within") as sync_error,
        ):
            client.predict(sample_records)
        assert server.heads_sent == 0
        assert server.connections == 1  # the deadline was spent: no second attempt

        async def run() -> None:
            async with AsyncScoringClient(server.scoring_uri, "k", contract="inputs", retry=policy) as client:
                with pytest.raises(RequestTimeoutError, match="within") as async_error:
                    await client.predict(sample_records)
            assert type(async_error.value) is type(sync_error.value)

        asyncio.run(run())
        assert server.heads_sent == 0
        assert server.connections == 2
    finally:
        server.close()


def test_a_given_httpx_client_keeps_its_own_behaviour_outside_attempts() -> None:
    """The deadline wrapper installed in a caller's httpx.Client is inert for the caller's own requests."""
    server = TrickleServer(b"{}", interval=0.05, trickle_head=True)
    try:
        with httpx.Client(timeout=30) as http:
            ScoringClient(server.scoring_uri, "k", contract="inputs", http_client=http)
            response = http.get(server.scoring_uri)  # about 10 s of trickled head: no attempt clock applies
        assert response.status_code == 200
        assert server.heads_sent == 1
    finally:
        server.close()


def test_errors_carry_the_policys_transient_verdict(
    slow_inputs: LocalEndpoint, endpoint_inputs: LocalEndpoint, sample_records: Records
) -> None:
    """Callers that pace their own retries (the batch engine) read the verdict from the error itself."""
    quick = ScoringClient(slow_inputs.scoring_uri, api_key=slow_inputs.primary_key, retry=RetryPolicy.no_retries())
    with quick, pytest.raises(RequestTimeoutError) as timed_out:
        quick.predict(sample_records)
    assert timed_out.value.status == 408
    assert timed_out.value.transient

    bad = dict(sample_records[0])
    bad.pop("age")
    client = ScoringClient(endpoint_inputs.scoring_uri, api_key=endpoint_inputs.primary_key)
    with client, pytest.raises(ModelError) as failed:
        client.request({"Inputs": {"data": [bad]}})
    assert failed.value.status == 424
    assert not failed.value.transient


def test_an_exhausted_429_is_raised_as_itself_with_the_servers_retry_after(
    bankmarketing_endpoint_factory: EndpointFactory, sample_records: Records, caplog: pytest.LogCaptureFixture
) -> None:
    """Real front throttling every request: each retry waited its Retry-After (not a draw from the 50 s backoff,
    which could cross the deadline), and the last 429 comes back typed, with the hint and the transient verdict."""
    throttled = bankmarketing_endpoint_factory(
        contract="inputs", faults=FaultSpec(throttled_ratio=1.0, retry_after_seconds=0.05), worker_count=1
    )
    policy = RetryPolicy(max_attempts=3, deadline=20.0, backoff_base=50.0, backoff_max=50.0)

    async def run() -> None:
        async with AsyncScoringClient(
            throttled.scoring_uri, throttled.primary_key, contract="inputs", retry=policy
        ) as client:
            await client.predict(sample_records)

    with (
        caplog.at_level(logging.WARNING, logger="bankmarketing_client.retry"),
        pytest.raises(RateLimitedError) as caught,
    ):
        asyncio.run(run())
    assert caught.value.status == 429
    assert caught.value.retry_after == 0.05
    assert caught.value.transient
    assert re.findall(r"HTTP 429 \(attempt (\d) of 3 failed.*waiting (\S+) s", caplog.text) == [
        ("1", "0.05"),
        ("2", "0.05"),
    ]
