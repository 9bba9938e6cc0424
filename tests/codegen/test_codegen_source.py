"""Reading specs from files and from a live endpoint (the real local one, over real HTTP)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.urls import endpoint_urls
from codegen.cli import main
from codegen.errors import CodegenError
from codegen.project import snapshot_path
from codegen.source import api_key_headers, fetch_best, load, swagger_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://h:1/score", "http://h:1/swagger.json"),
        ("http://h:1", "http://h:1/swagger.json"),
        ("http://h:1/", "http://h:1/swagger.json"),
        ("https://h/api/v1/service/x/swagger.json?version=2", "https://h/api/v1/service/x/swagger.json"),
        ("https://h/api/v1/service/x/score/", "https://h/api/v1/service/x/swagger.json"),
        # The client's derivation (urls.endpoint_urls): the swagger lives beside the scoring route, whatever its name.
        ("https://h/predict", "https://h/swagger.json"),
    ],
)
def test_swagger_url(given: str, expected: str) -> None:
    assert swagger_url(given) == expected == endpoint_urls(given).url("swagger.json")


def test_a_spec_url_that_is_no_http_url_is_one_clean_error() -> None:
    with pytest.raises(CodegenError, match="must be an http"):
        swagger_url("ftp://h/score")


def test_yaml_specs_are_read(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n")
    assert load(str(path))["openapi"] == "3.0.3"
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(CodegenError, match="expected a JSON object"):
        load(str(tmp_path / "list.json"))


def test_key_comes_from_the_named_variable_and_never_appears_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEGEN_TEST_KEY", "s3cr3t-value")
    assert api_key_headers("CODEGEN_TEST_KEY") == {"Authorization": "Bearer s3cr3t-value"}
    monkeypatch.delenv("CODEGEN_TEST_KEY")
    with pytest.raises(CodegenError, match="CODEGEN_TEST_KEY") as info:
        api_key_headers("CODEGEN_TEST_KEY")
    assert "s3cr3t" not in str(info.value)


@pytest.mark.parametrize("family", ["inputs", "data"])
def test_live_endpoint_offers_openapi_3_equal_to_the_committed_snapshot(
    family: str, endpoint_inputs: LocalEndpoint, endpoint_data: LocalEndpoint
) -> None:
    endpoint = endpoint_inputs if family == "inputs" else endpoint_data
    live = fetch_best(endpoint.scoring_uri)
    assert live["openapi"].startswith("3.")
    committed = json.loads(snapshot_path(family, 3).read_text())
    # If this fails, the endpoint's contract changed: run `python -m codegen snapshot` and `make codegen`.
    assert live == committed


def test_generate_from_a_live_url_with_a_key(
    endpoint_inputs: LocalEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CODEGEN_TEST_KEY", endpoint_inputs.primary_key)
    out = tmp_path / "live_client"
    assert main(["--spec", endpoint_inputs.base_url, "--output", str(out), "--api-key-env", "CODEGEN_TEST_KEY"]) == 0
    printed = capsys.readouterr()
    assert endpoint_inputs.primary_key not in printed.out + printed.err
    assert json.loads((out / "openapi.json").read_text())["components"]["schemas"]["ServiceOutput"]["required"] == [
        "Results"
    ]


def test_an_unreachable_endpoint_is_one_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bankmarketing_client.local.process import free_port

    url = f"http://127.0.0.1:{free_port()}/swagger.json"
    assert main(["--spec", url, "--output", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.startswith(f"codegen: error: cannot fetch {url}")
