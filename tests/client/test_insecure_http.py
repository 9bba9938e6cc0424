"""Keys and tokens travel only over TLS (loopback excepted): every face refuses, before anything is sent.

Only loopback may be reached from these tests, so "not loopback" is shown two ways, both with real processes:

* **The key really leaves in clear without the rule.** A raw socket on 127.0.0.1 plays the network path: with
  ``HTTP_PROXY`` pointing at it, httpx sends its request for ``http://scoring.invalid/score`` there, headers and
  all (``.invalid`` never resolves, RFC 6761). The opt-out run (``--allow-insecure-http``) shows the listener does
  receive ``Authorization: Bearer KEY`` that way, which is what every face did before the rule; the refused runs
  show it receives nothing.
* **Nothing is even attempted.** The CLI and Locust run under ``tests/netaudit.py``, which records CPython's own
  audit events for every name lookup and connection attempt (``socket.getaddrinfo``, ``socket.connect``): a
  refused run records none for the target, so the check came before DNS and before any connection.

The https side keeps working with a key and a token: the TLS stand-ins' tests (``tests/azureml/test_v2_credential.py``
and the discover/score runs against them) send credentials over https, and every local-endpoint test sends its key
over http to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from netaudit import PlainListener, audit_command, read_events

from bankmarketing_client import AsyncScoringClient, ScoringClient
from bankmarketing_client.auth import AccessToken, check_credential_url
from bankmarketing_client.errors import ConfigurationError
from bankmarketing_client.urls import is_loopback

REPO = Path(__file__).resolve().parents[2]
TARGET = "http://scoring.invalid/score"
KEY = "k3y-that-must-stay-off-the-wire-5521"
RUN_TIMEOUT = 120


# -- the rule itself -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("10.0.0.1", False),
        ("128.0.0.1", False),
        ("0.0.0.0", False),
        ("localhost.example.com", False),
        ("127.0.0.1.nip.io", False),  # resolves to loopback through DNS: a name is never trusted for it
        ("scoring.example.com", False),
    ],
)
def test_loopback_is_decided_from_the_text_alone(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    "url", ["https://h.example/score", "http://127.0.0.1:9/score", "http://[::1]:9/score", "http://localhost/score"]
)
def test_https_and_loopback_http_take_a_credential(url: str) -> None:
    check_credential_url(url)


@pytest.mark.parametrize("url", [TARGET, "http://10.0.0.1:8890/score", "HTTP://Bank.Example/score"])
def test_plain_http_elsewhere_is_refused_with_the_fix_named(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        check_credential_url(url)
    message = str(caught.value)
    assert "refusing to send a key or token over plain http" in message
    assert "https://" in message
    assert "allow_insecure_http=True" in message
    assert "--allow-insecure-http" in message
    check_credential_url(url, allow_insecure_http=True)  # the documented opt-out


# -- the library: both faces, every kind of credential -------------------------------------------------------


class _CountingProvider:
    """A token provider that counts its calls: a refused client must not even fetch a token."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> AccessToken:
        self.calls += 1
        return AccessToken("tok", 4102444800.0)


class _CountingCredential:
    """An azure-core ``TokenCredential`` shape (``get_token``) that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        self.calls += 1
        return ("tok", 4102444800.0)


def _faces() -> list[Callable[..., Any]]:
    return [ScoringClient, AsyncScoringClient]


@pytest.mark.parametrize("face", _faces())
@pytest.mark.parametrize(
    "credential",
    ["api_key", "secondary", "token_provider", "credential", "auth", "userinfo"],
)
def test_every_credential_for_plain_http_is_refused_before_anything_is_sent(
    face: Callable[..., Any], credential: str
) -> None:
    provider, azure_credential = _CountingProvider(), _CountingCredential()
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:  # would see any request the client made
        sent.append(request)
        return httpx.Response(200, json={"Results": ["no"]})

    transport: Any = httpx.MockTransport(record)
    client_type = httpx.Client if face is ScoringClient else httpx.AsyncClient
    uri = TARGET
    kwargs: dict[str, Any] = {"use_env": False, "contract": "inputs"}
    if credential == "api_key":
        kwargs["api_key"] = KEY
    elif credential == "secondary":
        kwargs.update(api_key=KEY, secondary_key=KEY + "2")
    elif credential == "token_provider":
        kwargs["token_provider"] = provider
    elif credential == "credential":
        kwargs["credential"] = azure_credential
    elif credential == "auth":
        kwargs["auth"] = httpx.BasicAuth("user", KEY)
    else:
        uri = f"http://user:{KEY}@scoring.invalid/score"
    kwargs["http_client"] = client_type(transport=transport)

    with pytest.raises(ConfigurationError, match="refusing to send a key or token over plain http") as caught:
        face(uri, **kwargs)
    assert KEY not in str(caught.value)
    assert (sent, provider.calls, azure_credential.calls) == ([], 0, 0)

    kwargs["allow_insecure_http"] = True  # the opt-out: the same client is built, and sends
    if face is ScoringClient:
        with face(uri, **kwargs) as client:
            client.request({"x": 1})
    else:

        async def run() -> None:
            async with face(uri, **kwargs) as client:
                await client.request({"x": 1})

        asyncio.run(run())
    assert len(sent) == 1
    assert sent[0].headers.get("Authorization")


def test_no_credential_means_nothing_to_protect() -> None:
    """A keyless client of an http endpoint (a bare container, the swagger probe of the load test) is allowed."""
    ScoringClient(TARGET, use_env=False).close()


# -- the real processes: CLI, batch scorer, settings file, load test, docs proxy -----------------------------


def _env(listener: PlainListener, **extra: str) -> dict[str, str]:
    """The environment of a CLI run: our key, and every http request proxied to the listener (the 'network')."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BANKMARKETING_", "LOCUST_")) and k.lower() not in ("no_proxy", "all_proxy", "https_proxy")
    }
    env.update(BANKMARKETING_API_KEY=KEY, HTTP_PROXY=listener.url, http_proxy=listener.url)
    env["BANKMARKETING_DATA"] = os.environ.get("BANKMARKETING_DATA", "")
    env.update(extra)
    return env


def _run(log: Path, env: dict[str, str], module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        audit_command(log, module, *args),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        env=env,
        cwd=cwd,
        check=False,
    )


@pytest.fixture
def records_file(shared_data: Path) -> Path:
    return shared_data / "azure-samples" / "data-2021-06-schema-order.json"


@pytest.fixture
def input_csv(train_path: Path, tmp_path: Path) -> Path:
    path = tmp_path / "in.csv"
    with train_path.open() as source:
        path.write_text("".join(next(source) for _ in range(4)))
    return path


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    """A settings file (fit to commit and edit by hand) whose scoring URI was edited to plain http."""
    path = tmp_path / "endpoint.json"
    settings = {"version": 1, "endpoint": "bank", "scoring_uri": TARGET, "auth_mode": "key", "pending_limit": 4}
    path.write_text(json.dumps(settings))
    return path


def _cli_runs(records_file: Path, input_csv: Path, settings_file: Path, out: Path) -> dict[str, list[str]]:
    return {
        "predict": ["predict", "--scoring-uri", TARGET, "--json", str(records_file), "--contract", "inputs"],
        "health": ["health", "--scoring-uri", TARGET, "--retries", "0"],
        "score": ["score", str(input_csv), "-o", str(out / "a.csv"), "--scoring-uri", TARGET, "--contract", "inputs"],
        "score --endpoint-settings": [
            "score", str(input_csv), "-o", str(out / "b.csv"), "--endpoint-settings", str(settings_file),
            "--contract", "inputs",
        ],
        "docs": ["docs", "--scoring-uri", TARGET],
    }  # fmt: skip


@pytest.mark.parametrize("command", ["predict", "health", "score", "score --endpoint-settings", "docs"])
def test_the_cli_refuses_a_key_for_plain_http_in_one_line_and_reaches_nothing(
    command: str, records_file: Path, input_csv: Path, settings_file: Path, tmp_path: Path
) -> None:
    argv = _cli_runs(records_file, input_csv, settings_file, tmp_path)[command]
    log = tmp_path / "net.log"
    with PlainListener() as listener:
        done = _run(log, _env(listener), "bankmarketing_client.cli", *argv, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.count("\n") == 1, done.stderr
    assert "refusing to send a key or token over plain http to scoring.invalid" in done.stderr
    assert "--allow-insecure-http" in done.stderr
    assert KEY not in done.stdout + done.stderr
    assert listener.received == []  # no byte reached the 'network'
    assert read_events(log) == []  # not even a DNS lookup or a connection attempt
    left = [p.name for p in tmp_path.iterdir() if "a.csv" in p.name or "b.csv" in p.name]
    assert left == []  # no output, spool, checkpoint or lock file (hidden ones included)


def test_with_the_opt_out_the_key_does_travel_in_clear(records_file: Path, tmp_path: Path) -> None:
    """The control: what the refused runs would have done (and did, before the rule). The listener sees the key."""
    argv = ["predict", "--scoring-uri", TARGET, "--json", str(records_file), "--contract", "inputs", "--retries", "0"]
    log = tmp_path / "net.log"
    with PlainListener() as listener:
        done = _run(log, _env(listener), "bankmarketing_client.cli", *argv, "--allow-insecure-http", cwd=tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]  # the listener answers nothing: the endpoint failed
    assert any(b"POST http://scoring.invalid/score" in got for got in listener.received)
    assert any(f"Authorization: Bearer {KEY}".encode() in got for got in listener.received)
    assert any("socket.connect" in line and str(listener.port) in line for line in read_events(log))
    assert KEY not in done.stdout + done.stderr


def _locust(log: Path, env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return _run(
        log, env, "locust", "-f", str(REPO / "loadtest"), "--headless", "-u", "1", "-r", "1", "-t", "20s",
        "--max-requests", "2", "--only-summary", "--contract", "inputs", *args, "BenchmarkUser", cwd=cwd,
    )  # fmt: skip


@pytest.mark.parametrize("source", ["--host", "--endpoint-settings", "--token-file"])
def test_the_load_test_refuses_a_key_or_token_for_plain_http_before_any_user_starts(
    source: str, settings_file: Path, tmp_path: Path
) -> None:
    token_file = tmp_path / "token.json"
    token_file.write_text(json.dumps({"accessToken": KEY, "expiryTimeUtc": 4102444800}))
    args = {
        "--host": ["--host", TARGET],
        "--endpoint-settings": ["--endpoint-settings", str(settings_file)],
        "--token-file": ["--host", TARGET, "--token-file", str(token_file)],
    }[source]
    log = tmp_path / "net.log"
    with PlainListener() as listener:
        env = _env(listener)
        if source == "--token-file":
            del env["BANKMARKETING_API_KEY"]
        done = _locust(log, env, *args, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output[-3000:]
    assert "refusing to send a key or token over plain http to scoring.invalid" in output
    assert "--allow-insecure-http" in output
    assert "Traceback" not in output
    assert KEY not in output
    assert listener.received == []
    assert [line for line in read_events(log) if "scoring.invalid" in line] == []


def test_the_load_test_opt_out_sends(tmp_path: Path) -> None:
    """The control for the load test: with ``--allow-insecure-http`` its users do send to the target (and fail,
    since ``.invalid`` resolves nowhere), so the refused runs above were refused by the rule, not by chance."""
    log = tmp_path / "net.log"
    with PlainListener() as listener:
        done = _locust(log, _env(listener), "--host", TARGET, "--allow-insecure-http", cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]  # the requests failed: there was someone to send them
    assert [line for line in read_events(log) if "scoring.invalid" in line]
    assert KEY not in output
