"""Azure's front layer, over real HTTP: keys, 401/408/413/424/429/502/503, keep-alive, request ids, faults."""

from __future__ import annotations

import asyncio
import http.client
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bankmarketing_client.local import FaultSpec, LocalEndpoint
from bankmarketing_client.local.faults import Fault, FaultInjector
from bankmarketing_client.local.pytest_plugin import EndpointFactory


@pytest.fixture(scope="module")
def body(load_sample: Callable[[str], Any]) -> dict[str, Any]:
    payload: dict[str, Any] = load_sample("data-2023-07-inputs-globalparams-benchmarked.json")
    return payload


def _score(endpoint: LocalEndpoint, body: Any, key: str | None, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    headers.update(kwargs.pop("headers", {}))
    return httpx.post(endpoint.scoring_uri, json=body, headers=headers, timeout=kwargs.pop("timeout", 30), **kwargs)


# -- keys ---------------------------------------------------------------------------------------------------------
def test_primary_and_secondary_keys_both_work(endpoint_inputs: LocalEndpoint, body: dict[str, Any]) -> None:
    for key in (endpoint_inputs.primary_key, endpoint_inputs.secondary_key):
        response = _score(endpoint_inputs, body, key)
        assert response.status_code == 200
        assert response.json() == {"Results": ["yes", "no"]}


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="no-header"),
        pytest.param("Bearer wrong-key", id="wrong-key"),
        pytest.param("Bearer", id="bearer-without-key"),
        pytest.param("{primary}", id="key-without-bearer"),
        pytest.param("Basic {primary}", id="other-scheme"),
        pytest.param("Bearer {primary}x", id="key-with-suffix"),
    ],
)
def test_bad_keys_are_401(endpoint_inputs: LocalEndpoint, body: dict[str, Any], header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header.format(primary=endpoint_inputs.primary_key)}
    response = httpx.post(endpoint_inputs.scoring_uri, json=body, headers=headers, timeout=30)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert endpoint_inputs.primary_key not in response.text


def test_scheme_is_case_insensitive_but_the_key_is_not(endpoint_inputs: LocalEndpoint, body: dict[str, Any]) -> None:
    key = endpoint_inputs.primary_key
    ok = httpx.post(endpoint_inputs.scoring_uri, json=body, headers={"Authorization": f"bearer {key}"}, timeout=30)
    assert ok.status_code == 200
    wrong_case = key.swapcase() if key.swapcase() != key else key + "A"
    refused = httpx.post(
        endpoint_inputs.scoring_uri, json=body, headers={"Authorization": f"Bearer {wrong_case}"}, timeout=30
    )
    assert refused.status_code == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "//score"), ("GET", "/score"), ("POST", "/score/"), ("POST", "/"), ("PUT", "/swagger.json")],
)
def test_no_other_route_reaches_the_container_without_a_key(
    endpoint_inputs: LocalEndpoint, body: dict[str, Any], method: str, path: str
) -> None:
    before = endpoint_inputs.stats().get("requests", 0)
    response = httpx.request(method, endpoint_inputs.base_url + path, json=body, timeout=30)
    assert response.status_code == 404
    assert "Results" not in response.text
    assert endpoint_inputs.stats().get("requests", 0) == before


def test_health_and_swagger_stay_open(endpoint_inputs: LocalEndpoint) -> None:
    assert httpx.get(endpoint_inputs.base_url + "/", timeout=10).text == "Healthy"
    swagger = httpx.get(endpoint_inputs.swagger_uri, timeout=10)
    assert swagger.status_code == 200
    assert swagger.json()["swagger"] == "2.0"
    assert httpx.get(endpoint_inputs.swagger_uri + "?version=3", timeout=10).json()["openapi"].startswith("3.0")


def test_keys_never_reach_the_logs(endpoint_inputs: LocalEndpoint, body: dict[str, Any]) -> None:
    _score(endpoint_inputs, body, endpoint_inputs.primary_key)
    _score(endpoint_inputs, body, endpoint_inputs.primary_key + "typo")
    for log in endpoint_inputs.log_dir.glob("*.log"):
        text = log.read_text(errors="replace")
        assert endpoint_inputs.primary_key not in text
        assert endpoint_inputs.secondary_key not in text
    assert endpoint_inputs.primary_key not in repr(endpoint_inputs)


# -- model errors --------------------------------------------------------------------------------------------------
def test_container_errors_become_424_with_azure_headers(endpoint_inputs: LocalEndpoint, body: dict[str, Any]) -> None:
    """The front mirrors whatever the container answers (its status, message and run-function flag), so the check
    compares with the container's own answer to the same request rather than fixing score.py's wording here."""
    record = dict(body["Inputs"]["data"][0])
    del record["age"]
    bad = {"Inputs": {"data": [record]}}
    direct = httpx.post(endpoint_inputs.container_url + "/score", json=bad, timeout=30)
    assert direct.status_code not in (200, 424)
    response = _score(endpoint_inputs, bad, endpoint_inputs.primary_key)
    assert response.status_code == 424
    assert response.headers["ms-azureml-model-error-statuscode"] == str(direct.status_code)
    assert "age" in response.headers["ms-azureml-model-error-reason"]
    assert response.headers["x-ms-run-function-failed"] == direct.headers["x-ms-run-function-failed"]
    assert response.json() == direct.json()

    missing = _score(endpoint_inputs, {"GlobalParameters": {"method": "predict"}}, endpoint_inputs.primary_key)
    assert missing.status_code == 424
    assert missing.headers["ms-azureml-model-error-statuscode"] == "400"


def test_data_family_error_stays_a_200_like_azure(endpoint_data: LocalEndpoint, body: dict[str, Any]) -> None:
    """Azure's front only sees the status: the AutoML script's 200-with-error passes through untouched."""
    record = dict(body["Inputs"]["data"][0], age="forty")
    response = _score(endpoint_data, {"data": [record]}, endpoint_data.primary_key)
    assert response.status_code == 200
    assert "error" in json.loads(response.json())


# -- limits: one deliberately slow, tightly limited endpoint ---------------------------------------------------------
@pytest.fixture(scope="module")
def constrained(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    return bankmarketing_endpoint_factory(
        contract="inputs",
        model_delay_ms=1500,
        request_timeout_ms=400,
        max_pending=2,
        max_body_bytes=4096,
        worker_count=1,
    )


def test_slow_model_is_408(constrained: LocalEndpoint, body: dict[str, Any]) -> None:
    response = _score(constrained, body, constrained.primary_key)
    assert response.status_code == 408
    assert "400 ms" in response.json()["message"]


def test_excess_concurrency_is_429(constrained: LocalEndpoint, body: dict[str, Any]) -> None:
    async def burst() -> list[int]:
        async with httpx.AsyncClient(timeout=30) as client:
            headers = {"Authorization": f"Bearer {constrained.primary_key}"}
            responses = await asyncio.gather(
                *(client.post(constrained.scoring_uri, json=body, headers=headers) for _ in range(8))
            )
        return [r.status_code for r in responses]

    statuses = asyncio.run(burst())
    assert statuses.count(429) >= 1
    assert set(statuses) <= {408, 429}
    assert statuses.count(408) >= 1  # the ones admitted reached the (slow) model


def test_large_body_is_413(constrained: LocalEndpoint, body: dict[str, Any]) -> None:
    big = {"Inputs": {"data": body["Inputs"]["data"] * 20}}
    assert len(json.dumps(big)) > 4096
    response = _score(constrained, big, constrained.primary_key)
    assert response.status_code == 413


def test_chunked_large_body_is_413(constrained: LocalEndpoint, body: dict[str, Any]) -> None:
    """Without Content-Length the limit still holds while the body is read."""
    payload = json.dumps({"Inputs": {"data": body["Inputs"]["data"] * 20}}).encode()

    def chunks() -> Any:
        for start in range(0, len(payload), 1000):
            yield payload[start : start + 1000]

    response = httpx.post(
        constrained.scoring_uri,
        content=chunks(),
        headers={"Authorization": f"Bearer {constrained.primary_key}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413


# -- connections and ids ---------------------------------------------------------------------------------------------
def test_keep_alive_serves_several_requests_on_one_connection(
    endpoint_inputs: LocalEndpoint, body: dict[str, Any]
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", endpoint_inputs.port, timeout=30)
    payload = json.dumps(body)
    headers = {"Authorization": f"Bearer {endpoint_inputs.primary_key}", "Content-Type": "application/json"}
    connection.connect()
    first_socket = connection.sock
    for _ in range(5):
        connection.request("POST", "/score", body=payload, headers=headers)
        response = connection.getresponse()
        assert response.status == 200
        response.read()
        assert response.getheader("Connection", "").lower() != "close"
        assert connection.sock is first_socket  # http.client drops the socket when the server closes it
    connection.close()


def test_request_ids_pass_through_or_are_generated(endpoint_inputs: LocalEndpoint, body: dict[str, Any]) -> None:
    given = str(uuid.uuid4())
    response = _score(endpoint_inputs, body, endpoint_inputs.primary_key, headers={"x-request-id": given})
    assert response.headers["x-request-id"] == given
    assert response.headers["x-ms-request-id"] == given

    response = _score(endpoint_inputs, body, endpoint_inputs.primary_key)
    generated = response.headers["x-request-id"]
    assert uuid.UUID(generated)
    assert response.headers["x-ms-request-id"] == generated

    unauthorized = _score(endpoint_inputs, body, None, headers={"x-request-id": given})
    assert unauthorized.headers["x-request-id"] == given


# -- faults ---------------------------------------------------------------------------------------------------------
def test_fault_draws_follow_the_shares_and_the_seed() -> None:
    spec = FaultSpec(unavailable_ratio=0.2, throttled_ratio=0.1, reset_ratio=0.05, seed=7)
    draws = _draws(spec, 2000)
    counts = {fault: draws.count(fault) for fault in Fault}
    assert 300 < counts[Fault.UNAVAILABLE] < 500
    assert 120 < counts[Fault.THROTTLED] < 290
    assert 40 < counts[Fault.RESET] < 170
    assert _draws(spec, 50) == _draws(spec, 50)  # same seed, same sequence


def _draws(spec: FaultSpec, count: int) -> list[Fault]:
    injector = FaultInjector(spec)
    return [injector.draw() for _ in range(count)]


def test_fault_spec_rejects_impossible_shares() -> None:
    with pytest.raises(ValueError, match="add up to at most 1"):
        FaultSpec(unavailable_ratio=0.7, throttled_ratio=0.5)


@pytest.fixture(scope="module")
def faulty(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    spec = FaultSpec(unavailable_ratio=0.3, throttled_ratio=0.3, retry_after_seconds=2, reset_ratio=0.2, seed=3)
    return bankmarketing_endpoint_factory(contract="inputs", faults=spec)


def test_each_fault_mode_does_what_it_says(faulty: LocalEndpoint, body: dict[str, Any]) -> None:
    seen: dict[str, int] = {"200": 0, "503": 0, "429": 0, "reset": 0}
    before = faulty.stats()
    for _ in range(40):
        try:
            response = _score(faulty, body, faulty.primary_key)
        except (httpx.RemoteProtocolError, httpx.ReadError):
            seen["reset"] += 1
            continue
        seen[str(response.status_code)] += 1
        if response.status_code == 429:
            assert response.headers["Retry-After"] == "2"
        if response.status_code == 200:
            assert response.json() == {"Results": ["yes", "no"]}
    after = faulty.stats()
    assert all(count > 0 for count in seen.values()), seen
    assert seen["503"] == after.get("fault_503", 0) - before.get("fault_503", 0)
    assert seen["429"] == after.get("fault_429", 0) - before.get("fault_429", 0)
    assert seen["reset"] == after.get("fault_reset", 0) - before.get("fault_reset", 0)


def test_faults_apply_only_to_score(faulty: LocalEndpoint) -> None:
    for _ in range(10):
        assert httpx.get(faulty.base_url + "/", timeout=10).status_code == 200


def test_added_latency_is_at_least_what_was_asked(
    bankmarketing_endpoint_factory: EndpointFactory, body: dict[str, Any]
) -> None:
    """A lower bound only: injected sleep can make a request slower, never faster, whatever the load."""
    slow = bankmarketing_endpoint_factory(contract="inputs", faults=FaultSpec(latency_ms=400))
    started = time.monotonic()
    response = _score(slow, body, slow.primary_key)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.4


# -- the container going away --------------------------------------------------------------------------------------
def test_dead_container_answers_503_at_once(body: dict[str, Any]) -> None:
    with LocalEndpoint(contract="inputs") as endpoint:
        endpoint.kill_container()
        # A short client timeout: a hang would fail this test with a timeout, not pass it.
        response = _score(endpoint, body, endpoint.primary_key, timeout=5)
        assert response.status_code in (502, 503)
        assert "scoring container" in response.json()["message"]
        health = httpx.get(endpoint.base_url + "/", timeout=5)
        assert health.status_code == 503


# -- the original benchmark ------------------------------------------------------------------------------------------
def test_original_ab_line_reports_no_failures(endpoint_data: LocalEndpoint, shared_data: Path) -> None:
    if shutil.which("ab") is None:
        pytest.fail("ab is missing: `make test` installs Debian apache2-utils (run it as root, or install it)")
    data_json = shared_data / "azure-samples" / "data-2020-08-udacity-starter.json"
    result = subprocess.run(
        [
            "ab", "-n", "10", "-p", str(data_json), "-T", "application/json",
            "-H", f"Authorization: Bearer {endpoint_data.primary_key}", endpoint_data.scoring_uri,
        ],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "Complete requests:      10" in result.stdout
    assert "Failed requests:        0" in result.stdout
    assert "Non-2xx responses" not in result.stdout
