"""``bankmarketing-client docs``: where the endpoint and the key come from, and user mistakes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bankmarketing_client.cli import build_parser, main
from bankmarketing_client.cli.docs import docs_server_for, run_docs
from bankmarketing_client.local.endpoint import LocalEndpoint


def test_env_key_reaches_the_proxy_not_the_page(
    endpoint_inputs: LocalEndpoint, monkeypatch: pytest.MonkeyPatch, load_sample: Callable[[str], Any]
) -> None:
    monkeypatch.setenv("BANKMARKETING_SCORING_URI", endpoint_inputs.scoring_uri)
    monkeypatch.setenv("BANKMARKETING_API_KEY", endpoint_inputs.primary_key)
    args = build_parser().parse_args(["docs"])
    records = load_sample("data-2023-07-inputs-only.json")["Inputs"]["data"]
    with docs_server_for(args) as server, server.running():
        base = f"http://127.0.0.1:{server.port}"
        assert endpoint_inputs.primary_key not in httpx.get(base + "/docs/").text
        response = httpx.post(base + "/api/score", json={"Inputs": {"data": records}})
    assert response.status_code == 200
    assert len(response.json()["Results"]) == len(records)


def test_key_file_and_no_key(endpoint_inputs: LocalEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANKMARKETING_API_KEY", "from-env")
    key_file = tmp_path / "key"
    key_file.write_text(endpoint_inputs.secondary_key + "\n")
    uri = endpoint_inputs.scoring_uri
    with docs_server_for(build_parser().parse_args(["docs", "--scoring-uri", uri, "--key-file", str(key_file)])) as s:
        assert s.api_key == endpoint_inputs.secondary_key
    with docs_server_for(build_parser().parse_args(["docs", "--scoring-uri", uri, "--no-key"])) as s:
        assert s.api_key is None
    with docs_server_for(build_parser().parse_args(["docs", "--swagger-uri", endpoint_inputs.swagger_uri])) as s:
        assert s.base == endpoint_inputs.base_url.rstrip("/") + "/"
        assert s.api_key == "from-env"
        assert "from-env" not in repr(s)


def test_run_docs_prints_the_url_and_stops(endpoint_inputs: LocalEndpoint, capsys: pytest.CaptureFixture[str]) -> None:
    stop = threading.Event()
    args = build_parser().parse_args(["docs", "--scoring-uri", endpoint_inputs.scoring_uri, "--no-key"])
    worker = threading.Thread(target=run_docs, args=(args,), kwargs={"stop": stop})
    worker.start()
    try:
        for _ in range(600):  # up to 30 s on a loaded machine; the loop ends as soon as the line is printed
            out = capsys.readouterr().out
            if out:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        worker.join(timeout=10)
    assert "Swagger UI for" in out
    assert "http://127.0.0.1:" in out
    assert not worker.is_alive()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["docs"], "no endpoint"),
        (["docs", "--local", "--scoring-uri", "http://x/score"], "give one of"),
        (["docs", "--scoring-uri", "ftp://x/score"], "http(s) URL"),
        (["docs", "--scoring-uri", "http://x/score", "--key-file", "/nonexistent/key"], "cannot read the key file"),
        (["docs", "--port", "70000", "--scoring-uri", "http://x/score"], "--port"),
        (["docs", "--local", "--no-key"], "not --local or --service"),
        (["docs", "--service", "bank", "--key-file", "/nonexistent/key"], "not --local or --service"),
    ],
)
def test_user_mistakes_are_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BANKMARKETING_SCORING_URI", raising=False)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
