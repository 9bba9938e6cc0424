"""Refresh the committed swagger snapshots from the local endpoint (or a live one).

Both documents are stored as served: ``/swagger.json`` (Swagger 2.0, what Azure publishes by default) and
``/swagger.json?version=3`` (OpenAPI 3.0.3, the generator's input).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from codegen.errors import CodegenError
from codegen.project import families, snapshot_path, write_json
from codegen.source import api_key_headers, fetch, swagger_url


def snapshot_endpoint(url: str, family: str, *, api_key_env: str | None = None) -> list[Path]:
    """Fetch both versions from ``url`` and write them as ``family``'s snapshots."""
    target = swagger_url(url)
    headers = api_key_headers(api_key_env)
    written = []
    for version in (2, 3):
        doc = fetch(target, version=None if version == 2 else str(version), headers=headers)
        expected = "swagger" if version == 2 else "openapi"
        if expected not in doc:
            raise CodegenError(f"{target} did not answer a version {version} document")
        path = snapshot_path(family, version)
        write_json(path, doc)
        written.append(path)
    return written


def snapshot_local(only: Sequence[str] | None = None) -> list[Path]:
    """Start the local endpoint once per family (or those in ``only``) and snapshot it (needs the ``local`` extra
    and the data)."""
    from bankmarketing_client.local.endpoint import LocalEndpoint

    written: list[Path] = []
    for family in only or families():
        with LocalEndpoint(contract=family, worker_count=1) as endpoint:
            written += snapshot_endpoint(endpoint.swagger_uri, family)
    return written
