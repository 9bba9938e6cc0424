"""Reading a spec from a file or a live endpoint.

From an endpoint, OpenAPI 3 is asked for first (``?version=3``, which servers from 2022 on answer); a server
that refuses it, or ignores the parameter and answers 2.0, is read as 2.0 and converted. A key, when needed, is
read from an environment variable named on the command line, never from argv, and never printed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx

from bankmarketing_client.errors import ConfigurationError
from bankmarketing_client.urls import endpoint_urls, redact_url
from codegen.errors import CodegenError

TIMEOUT_S = 30.0


def is_url(source: str) -> bool:
    """True for http(s) URLs; everything else is a path."""
    return source.startswith(("http://", "https://"))


def swagger_url(url: str) -> str:
    """The swagger URL of a scoring URI, a swagger URI or a bare ``http(s)://host[:port]``.

    :func:`bankmarketing_client.urls.endpoint_urls` derives it, as for the client, the docs proxy and the load
    test: the swagger lives beside the scoring route, whatever that route is named (``https://h/predict`` ->
    ``https://h/swagger.json``).
    """
    try:
        return endpoint_urls(url, what="the spec URL").url("swagger.json")
    except ConfigurationError as exc:
        raise CodegenError(str(exc)) from None


def _parse(text: str, where: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        import yaml

        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CodegenError(f"{where}: neither JSON nor YAML ({exc.__class__.__name__})") from None
    if not isinstance(doc, dict):
        raise CodegenError(f"{where}: expected a JSON object, got {type(doc).__name__}")
    return doc


def read_file(path: Path) -> dict[str, Any]:
    """A spec from a JSON or YAML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CodegenError(f"cannot read {path}: {exc.strerror or exc}") from None
    return _parse(text, str(path))


def api_key_headers(api_key_env: str | None) -> dict[str, str]:
    """``Authorization: Bearer <key>`` from the named environment variable, or nothing."""
    if not api_key_env:
        return {}
    key = os.environ.get(api_key_env, "")
    if not key:
        raise CodegenError(f"--api-key-env names {api_key_env}, but that environment variable is empty or unset")
    return {"Authorization": f"Bearer {key}"}


def fetch(url: str, *, version: str | None, headers: dict[str, str], timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """GET one swagger document; ``version`` is sent as ``?version=`` when given."""
    params = {"version": version} if version else None
    try:
        response = httpx.get(url, params=params, headers=headers, timeout=timeout, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise CodegenError(f"cannot fetch {redact_url(url)}: {exc.__class__.__name__}: {exc}") from None
    shown = redact_url(str(response.url))
    if response.status_code != 200:
        raise CodegenError(f"{shown} answered HTTP {response.status_code}")
    return _parse(response.text, shown)


def fetch_best(url: str, *, api_key_env: str | None = None) -> dict[str, Any]:
    """OpenAPI 3 when the server offers it, else what it serves by default."""
    target = swagger_url(url)
    headers = api_key_headers(api_key_env)
    try:
        doc = fetch(target, version="3", headers=headers)
    except CodegenError:
        doc = {}
    if str(doc.get("openapi", "")).startswith("3."):
        return doc
    return fetch(target, version=None, headers=headers)


def load(source: str, *, api_key_env: str | None = None) -> dict[str, Any]:
    """A spec from a URL or a path."""
    return fetch_best(source, api_key_env=api_key_env) if is_url(source) else read_file(Path(source))
