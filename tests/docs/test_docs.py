"""The Swagger UI server: swagger rewriting, the same-origin proxy and its key handling, and a real headless
Chromium loading the page and running "Try it out" against the real local endpoint."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from docs_browser import Browser, find_chromium

from bankmarketing_client.docs import DocsServer, rewrite_swagger, upstream_base
from bankmarketing_client.errors import ConfigurationError
from bankmarketing_client.local.endpoint import LocalEndpoint


@pytest.fixture
def docs(endpoint_inputs: LocalEndpoint) -> Iterator[DocsServer]:
    server = DocsServer(scoring_uri=endpoint_inputs.scoring_uri, api_key=endpoint_inputs.primary_key)
    with server.running():
        yield server


@pytest.fixture
def records(load_sample: Callable[[str], Any]) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = load_sample("data-2023-07-inputs-only.json")["Inputs"]["data"]
    return data


def origin(server: DocsServer) -> str:
    return f"http://127.0.0.1:{server.port}"


# --- rewriting, on Azure's real swagger files --------------------------------------------------------------


def test_swagger2_points_at_the_proxy(shared_data: Path) -> None:
    spec = json.loads((shared_data / "azure-swagger" / "v7-2023-07-inputs-swaggerpath.json").read_text())
    original = json.loads(json.dumps(spec))
    rewritten = rewrite_swagger(spec)
    assert rewritten["basePath"] == "/api"
    assert "host" not in rewritten
    assert "schemes" not in rewritten
    assert rewritten["paths"] == spec["paths"]
    assert "adds its key" in rewritten["info"]["description"]
    assert spec == original  # the input is not modified in place


def test_openapi3_gets_a_relative_server() -> None:
    spec = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "servers": [{"url": "http://x"}], "paths": {}}
    assert rewrite_swagger(spec)["servers"] == [{"url": "/api"}]
    with pytest.raises(ConfigurationError):
        rewrite_swagger({"paths": {}})


@pytest.mark.parametrize(
    ("scoring", "swagger", "base"),
    [
        ("https://h.westeurope.cloudapp.azure.com/api/v1/service/bank/score", None,
         "https://h.westeurope.cloudapp.azure.com/api/v1/service/bank/"),
        ("http://10.0.0.1:8890/api/v1/service/bank/score/", None, "http://10.0.0.1:8890/api/v1/service/bank/"),
        ("http://10.0.0.1:8890", None, "http://10.0.0.1:8890/"),  # was "http:/": the key went to no host
        ("http://10.0.0.1:8890/", None, "http://10.0.0.1:8890/"),
        ("http://10.0.0.1:8890/score?x=1", None, "http://10.0.0.1:8890/"),
        ("http://[::1]:8890/score", None, "http://[::1]:8890/"),
        (None, "http://1.2.3.4/swagger.json?version=2", "http://1.2.3.4/"),
        (None, "http://1.2.3.4:81/api/v1/service/bank/swagger.json", "http://1.2.3.4:81/api/v1/service/bank/"),
    ],
)  # fmt: skip
def test_upstream_base_from_scoring_or_swagger_uri(scoring: str | None, swagger: str | None, base: str) -> None:
    assert upstream_base(scoring, swagger) == base


def test_bad_upstream_uris_are_refused_without_quoting_them() -> None:
    for bad in ("ftp://x/score", "Zx9SECRETKEYvalue", "http://", "http://h:99999/score"):
        with pytest.raises(ConfigurationError) as caught:
            upstream_base(bad, None)
        assert "SECRET" not in str(caught.value)
        assert "99999" not in str(caught.value)
    with pytest.raises(ConfigurationError, match="swagger URI") as caught:
        upstream_base("http://h/score", "Zx9SECRETKEYvalue")
    assert "SECRET" not in str(caught.value)
    with pytest.raises(ConfigurationError, match="loopback"):
        DocsServer(scoring_uri="http://h/score", host="0.0.0.0")


# --- the server over real HTTP, in front of the real local endpoint ----------------------------------------


def test_page_and_swagger_never_contain_the_key(docs: DocsServer, endpoint_inputs: LocalEndpoint) -> None:
    key = endpoint_inputs.primary_key
    for path in ("/docs/", "/docs/initializer.js", "/swagger.json", "/swagger.json?version=3"):
        response = httpx.get(origin(docs) + path)
        assert response.status_code == 200, path
        assert key not in response.text
    assert httpx.get(origin(docs) + "/swagger.json?version=3").json()["servers"] == [{"url": "/api"}]
    assert (
        httpx.get(origin(docs) + "/docs/swagger-ui-bundle.js")
        .headers["content-type"]
        .startswith("application/javascript")
    )


def test_proxy_adds_the_key_server_side(
    docs: DocsServer, endpoint_inputs: LocalEndpoint, records: list[dict[str, Any]]
) -> None:
    body = {"Inputs": {"data": records}, "GlobalParameters": {"method": "predict"}}
    response = httpx.post(origin(docs) + "/api/score", json=body, headers={"Origin": origin(docs)})
    assert response.status_code == 200
    assert len(response.json()["Results"]) == len(records)
    assert response.headers["x-ms-server-version"].startswith("azmlinfsrv/")

    # Without the server-side key the same request is refused by the endpoint: the key comes from the proxy.
    keyless = DocsServer(scoring_uri=endpoint_inputs.scoring_uri)
    with keyless.running():
        assert httpx.post(origin(keyless) + "/api/score", json=body).status_code == 401
    # A user who authorized in the page sends their own header, which wins over the server's key.
    own = httpx.post(origin(docs) + "/api/score", json=body, headers={"Authorization": "Bearer wrong"})
    assert own.status_code == 401
    assert httpx.get(origin(docs) + "/api/").text.strip('"') == "Healthy"


def test_a_bare_host_uri_reaches_that_host(endpoint_inputs: LocalEndpoint, records: list[dict[str, Any]]) -> None:
    """``http://IP:PORT`` with no path: the swagger and the proxied calls must go to that host, key and all."""
    bare = endpoint_inputs.base_url.rstrip("/")
    server = DocsServer(scoring_uri=bare, api_key=endpoint_inputs.primary_key)
    with server.running():
        assert httpx.get(origin(server) + "/swagger.json").status_code == 200
        body = {"Inputs": {"data": records}, "GlobalParameters": {"method": "predict"}}
        answer = httpx.post(origin(server) + "/api/score", json=body)
        assert answer.status_code == 200
        assert len(answer.json()["Results"]) == len(records)


@pytest.mark.parametrize(("lifetime", "fetches"), [(3600.0, 1), (-1.0, 2)])
def test_tokens_are_cached_until_due_like_the_clients(
    endpoint_inputs: LocalEndpoint, records: list[dict[str, Any]], lifetime: float, fetches: int
) -> None:
    """A valid token serves both requests; an expired one is fetched again for each (auth.TokenAuth's cache)."""
    calls: list[int] = []

    def provider() -> tuple[str, float]:
        calls.append(1)
        return endpoint_inputs.primary_key, time.time() + lifetime

    server = DocsServer(scoring_uri=endpoint_inputs.scoring_uri, token_provider=provider)
    with server.running():
        statuses = [
            httpx.post(origin(server) + "/api/score", json={"Inputs": {"data": records}}).status_code for _ in range(2)
        ]
    assert statuses == [200, 200]
    assert len(calls) == fetches


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Host": "attacker.example"},  # DNS rebinding: a foreign name resolving to 127.0.0.1
    ],
)
def test_cross_site_and_foreign_host_requests_are_refused(
    docs: DocsServer, records: list[dict[str, Any]], headers: dict[str, str]
) -> None:
    response = httpx.post(origin(docs) + "/api/score", json={"Inputs": {"data": records}}, headers=headers)
    assert response.status_code == 403
    assert "refused by the docs server" in response.json()["message"]


def test_unreachable_endpoint_is_a_502_with_a_message() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = DocsServer(scoring_uri=f"http://127.0.0.1:{port}/score", api_key="not-a-real-key")
    with server.running():
        swagger = httpx.get(origin(server) + "/swagger.json")
        score = httpx.post(origin(server) + "/api/score", json={})
    assert (swagger.status_code, score.status_code) == (502, 502)
    assert swagger.json()["message"].startswith("cannot fetch the swagger")
    assert score.json()["message"].startswith("cannot reach the endpoint")
    assert "not-a-real-key" not in swagger.text + score.text


# --- a real browser -------------------------------------------------------------------------------------------

EXPAND_SCORE = """(() => {
  const op = [...document.querySelectorAll('.opblock-post')]
    .find(el => el.querySelector('.opblock-summary-path')?.textContent.trim().endsWith('/score'));
  if (!op) return false;
  (op.querySelector('button.opblock-summary-control') || op.querySelector('.opblock-summary')).click();
  return true;
})()"""

CLICK_TRY_IT_OUT = """(() => {
  const button = document.querySelector('.opblock-post.is-open .try-out__btn');
  if (!button) return false;
  button.click();
  return true;
})()"""

SET_BODY = """((body) => {
  const area = document.querySelector('.opblock-post.is-open textarea.body-param__text');
  if (!area) return false;
  const setter = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value').set;
  setter.call(area, body);
  area.dispatchEvent(new Event('input', {bubbles: true}));
  return true;
})(%s)"""

CLICK_EXECUTE = """(() => {
  const button = document.querySelector('.opblock-post.is-open .execute');
  if (!button) return false;
  button.click();
  return true;
})()"""

LIVE_RESPONSE = """(() => {
  const table = document.querySelector('.opblock-post.is-open .live-responses-table');
  if (!table) return null;
  const status = table.querySelector('.response .response-col_status');
  const body = table.querySelector('.response-col_description pre, .response-col_description code');
  if (!status || !body) return null;
  return {status: status.textContent.trim(), body: body.textContent};
})()"""


async def drive_swagger_ui(url: str, body: str, screenshot: Path) -> dict[str, Any]:
    chromium = find_chromium()
    if chromium is None:
        pytest.fail("Debian chromium is required for this test: `make system-deps` (apt-get install chromium)")
    async with Browser(chromium) as browser:
        await browser.navigate(url)
        operations = await browser.wait_for(
            "[...document.querySelectorAll('.opblock-summary-path')].map(e => e.textContent.trim())",
            what="the endpoint's operations",
        )
        html = await browser.evaluate("document.documentElement.outerHTML")
        await browser.wait_for(EXPAND_SCORE, what="POST /score")
        await browser.wait_for(CLICK_TRY_IT_OUT, what="the Try it out button")
        await browser.wait_for(SET_BODY % json.dumps(body), what="the request body editor")
        await browser.wait_for(CLICK_EXECUTE, what="the Execute button")
        live = await browser.wait_for(LIVE_RESPONSE, what="the live response")
        await browser.evaluate("document.querySelector('.opblock-post.is-open .live-responses-table').scrollIntoView()")
        await browser.screenshot(screenshot)
        return {"operations": operations, "live": live, "html": html}


def test_swagger_ui_in_headless_chromium_scores_through_try_it_out(
    docs: DocsServer, endpoint_inputs: LocalEndpoint, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    screenshot = tmp_path / "swagger-ui.png"
    body = json.dumps({"Inputs": {"data": records}, "GlobalParameters": {"method": "predict"}})

    seen = asyncio.run(asyncio.wait_for(drive_swagger_ui(docs.url, body, screenshot), timeout=120))

    assert {"/", "/score", "/swagger.json"} <= set(seen["operations"])
    assert seen["live"]["status"] == "200"
    direct = httpx.post(
        endpoint_inputs.scoring_uri,
        content=body,
        headers={"Authorization": f"Bearer {endpoint_inputs.primary_key}", "Content-Type": "application/json"},
    )
    results = json.loads(seen["live"]["body"])["Results"]
    assert len(results) == len(records)
    assert results == direct.json()["Results"]
    assert endpoint_inputs.primary_key not in seen["html"]
    assert screenshot.stat().st_size > 10_000
    print(f"\nSwagger UI screenshot: {screenshot}")
    if os.environ.get("BANKMARKETING_SCREENSHOT"):
        Path(os.environ["BANKMARKETING_SCREENSHOT"]).write_bytes(screenshot.read_bytes())
