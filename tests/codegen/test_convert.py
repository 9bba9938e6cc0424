"""The Swagger 2.0 -> OpenAPI 3 converter, on Azure's real documents and on what it must refuse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from codegen.convert import swagger2_to_openapi3
from codegen.errors import CodegenError
from codegen.overlay import apply_overlay
from codegen.project import load_feature_overlay, snapshot_path


def _swaggers(shared_data: Path) -> list[Path]:
    found = sorted((shared_data / "azure-swagger").glob("*.json"))
    assert len(found) == 10  # eight bank-marketing shapes (v1 twice) and the bike-sharing exercise
    return found


def test_every_real_azure_swagger_converts_to_valid_openapi_3(shared_data: Path) -> None:
    for path in _swaggers(shared_data):
        raw = json.loads(path.read_text())
        converted = swagger2_to_openapi3(raw)
        validate(converted)  # raises on an invalid document
        assert converted["openapi"] == "3.0.3"
        assert "#/definitions/" not in json.dumps(converted), path.name
        assert converted["components"]["schemas"].keys() == raw["definitions"].keys()


@pytest.mark.parametrize("family", ["inputs", "data"])
def test_converted_snapshot_matches_what_the_server_itself_serves(family: str) -> None:
    """The local endpoint serves both 2.0 and 3.0; after the overlay, our conversion must equal the server's."""
    features = load_feature_overlay()
    ours = apply_overlay(swagger2_to_openapi3(json.loads(snapshot_path(family, 2).read_text())), features)
    theirs = apply_overlay(json.loads(snapshot_path(family, 3).read_text()), features)
    theirs.pop("security", None)  # the 3.0 generator adds a global requirement the 2.0 document lacks
    assert ours == theirs


def _minimal(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": {}}
    doc.update(extra)
    return doc


def test_body_query_and_refs_are_mapped() -> None:
    doc = _minimal(
        host="example.org",
        basePath="/v1",
        schemes=["https", "http"],
        consumes=["application/json"],
        produces=["application/json"],
        definitions={"In": {"type": "object", "properties": {"x": {"$ref": "#/definitions/X"}}}, "X": {}},
        paths={
            "/score": {
                "post": {
                    "operationId": "Run",
                    "parameters": [
                        {"name": "body", "in": "body", "required": True, "schema": {"$ref": "#/definitions/In"}},
                        {"name": "v", "in": "query", "type": "integer", "enum": [2, 3]},
                        {"name": "tags", "in": "query", "type": "array", "items": {"type": "string"}},
                    ],
                    "responses": {"200": {"description": "ok", "schema": {"type": "string"}}},
                }
            }
        },
    )
    out = swagger2_to_openapi3(doc)
    validate(out)
    assert out["servers"] == [{"url": "https://example.org/v1"}, {"url": "http://example.org/v1"}]
    op = out["paths"]["/score"]["post"]
    assert op["requestBody"] == {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/In"}}},
        "required": True,
    }
    assert op["parameters"][0] == {"name": "v", "in": "query", "schema": {"type": "integer", "enum": [2, 3]}}
    assert op["parameters"][1]["explode"] is False
    assert out["components"]["schemas"]["In"]["properties"]["x"] == {"$ref": "#/components/schemas/X"}
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {"type": "string"}


def test_openapi_3_passes_through_unchanged() -> None:
    doc = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}}
    out = swagger2_to_openapi3(doc)
    assert out == doc
    assert out is not doc


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"info": {}}, "not a Swagger 2.0 or OpenAPI 3 document"),
        (_minimal(securityDefinitions={"o": {"type": "oauth2", "flow": "implicit"}}), "oauth2"),
        (_minimal(definitions={"A": {"$ref": "other.json#/A"}}), "only local #/definitions/"),
        (_minimal(parameters={"p": {"name": "p", "in": "query", "type": "string"}}), "global 'parameters'"),
        (
            _minimal(paths={"/f": {"post": {"parameters": [{"name": "f", "in": "formData", "type": "file"}]}}}),
            "formData",
        ),
    ],
)
def test_unsupported_swagger_features_are_refused_by_name(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(CodegenError, match=message):
        swagger2_to_openapi3(doc)
