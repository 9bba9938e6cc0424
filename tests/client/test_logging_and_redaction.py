"""The library prints nothing unless asked, and no key in a URI's userinfo is ever shown.

Real processes: a client in a subprocess with no logging configured, run against the real local endpoint
refusing every request, and the CLI run with ``-vv`` against the real endpoint with ``user:KEY@`` in its URI.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from scoring_helpers import RecordingTransport, requests_seen

from bankmarketing_client import ScoringClient
from bankmarketing_client.errors import AuthenticationError, UnexpectedResponseError
from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.local.faults import FaultSpec
from bankmarketing_client.local.pytest_plugin import EndpointFactory

Records = list[dict[str, Any]]

pytest_plugins = ["scoring_support"]

#: What is pasted into the URI's userinfo in these tests: it must appear nowhere.
PASTED_KEY = "Zq8PastedKeyInTheUri"

#: A bounded retry storm on both faces: 3 calls x 25 attempts each, waits of a few milliseconds.
STORM = """
import asyncio, logging, os, sys
from bankmarketing_client import AsyncScoringClient, RetryPolicy, ScoringClient, ServiceUnavailableError

if sys.argv[1] == "configured":
    logging.basicConfig()  # the application asked for log output: the retry warnings must reach it
policy = RetryPolicy(max_attempts=25, deadline=60.0, backoff_base=0.002, backoff_max=0.005)
body = {"Inputs": {"data": []}}
failed = 0
with ScoringClient.from_env(retry=policy) as client:
    for _ in range(2):
        try:
            client.request(body)
        except ServiceUnavailableError:
            failed += 1

async def run() -> int:
    async with AsyncScoringClient.from_env(retry=policy) as client:
        try:
            await client.request(body)
        except ServiceUnavailableError:
            return 1
    return 0

failed += asyncio.run(run())
print(f"failed {failed}")
"""


@pytest.fixture(scope="session")
def unavailable_inputs(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    """An ``inputs`` endpoint whose front answers every ``/score`` request with a 503."""
    return bankmarketing_endpoint_factory(
        contract="inputs", faults=FaultSpec(unavailable_ratio=1.0, seed=3), worker_count=1
    )


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BANKMARKETING_") or k.endswith("_DATA")}
    env.update(extra)
    return env


@pytest.mark.parametrize("configured", [False, True], ids=["no-logging-configured", "logging-configured"])
def test_a_retry_storm_prints_nothing_unless_logging_is_configured(
    unavailable_inputs: LocalEndpoint, configured: bool
) -> None:
    before = requests_seen(unavailable_inputs)
    env = _env(
        BANKMARKETING_SCORING_URI=unavailable_inputs.scoring_uri,
        BANKMARKETING_API_KEY=unavailable_inputs.primary_key,
    )
    done = subprocess.run(
        [sys.executable, "-c", STORM, "configured" if configured else "silent"],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "failed 3"
    assert requests_seen(unavailable_inputs) - before == 75  # the storm did happen: 3 calls x 25 attempts
    if configured:  # the warnings exist and go through logging...
        assert done.stderr.count("retrying after HTTP 503") == 72
    else:  # ...and without a handler of the application's they go nowhere
        assert done.stderr == ""


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bankmarketing_client.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_cli_verbose_output_never_shows_a_key_in_the_uri(
    endpoint_inputs: LocalEndpoint, sample_records: Records, tmp_path: Path
) -> None:
    uri = endpoint_inputs.scoring_uri.replace("://", f"://user:{PASTED_KEY}@")
    records = tmp_path / "records.json"
    records.write_text(json.dumps(sample_records))
    predict = ["-vv", "predict", "--json", str(records), "--scoring-uri", uri]
    done = _cli(predict, _env(BANKMARKETING_API_KEY=endpoint_inputs.primary_key))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["1\tyes", "2\tno"]
    assert "HTTP Request: POST" in done.stderr  # httpx's own request line was logged, URL included
    assert PASTED_KEY not in done.stdout + done.stderr

    # The userinfo as the only credential: sent as Basic auth (as httpx does), refused, reported in one line.
    done = _cli([*predict, "--contract", "inputs"], _env())
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].startswith("bankmarketing-client: error: the endpoint refused the key")
    assert PASTED_KEY not in done.stdout + done.stderr


def test_userinfo_leaves_the_url_and_becomes_the_basic_auth_httpx_would_send(
    endpoint_inputs: LocalEndpoint, recording: RecordingTransport
) -> None:
    uri = endpoint_inputs.scoring_uri.replace("://", f"://user:{PASTED_KEY}@")
    http = httpx.Client(transport=recording)
    with ScoringClient(uri, contract="inputs", http_client=http, use_env=False) as client:
        assert PASTED_KEY not in client.scoring_uri + repr(client)
        with pytest.raises(AuthenticationError) as refused:  # the front wants a Bearer key
            client.request({"Inputs": {"data": []}})
    assert PASTED_KEY not in str(refused.value)
    sent = recording.sent[-1]
    assert not sent.url.userinfo
    basic = base64.b64encode(f"user:{PASTED_KEY}".encode()).decode()
    assert sent.headers["authorization"] == f"Basic {basic}"

    with ScoringClient(uri, endpoint_inputs.primary_key, http_client=httpx.Client(transport=recording)) as client:
        assert client.health() == "Healthy"  # a key given explicitly wins over the userinfo, as in httpx
    assert recording.sent[-1].headers["authorization"] == f"Bearer {endpoint_inputs.primary_key}"
    assert not recording.sent[-1].url.userinfo


def test_a_redirect_to_a_url_with_userinfo_is_shown_redacted() -> None:
    """Mock: the local front never redirects; a misconfigured proxy may redirect to a URL holding credentials."""
    location = f"https://user:{PASTED_KEY}@moved.example/score"
    transport = httpx.MockTransport(lambda _r: httpx.Response(302, headers={"location": location}))
    with (
        ScoringClient("https://mock/score", "k", http_client=httpx.Client(transport=transport)) as client,
        pytest.raises(UnexpectedResponseError, match=r"redirects to https://\*+@moved\.example/score") as caught,
    ):
        client.health()
    assert PASTED_KEY not in str(caught.value)
