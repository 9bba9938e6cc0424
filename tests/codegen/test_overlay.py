"""The overlay: real response types, the scoring method, and the data-derived feature rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codegen.convert import swagger2_to_openapi3
from codegen.domain import derive_domain
from codegen.errors import CodegenError
from codegen.overlay import apply_overlay, family_of, feature_overlay, record_schema
from codegen.project import FEATURE_OVERLAY, load_feature_overlay


def _overlaid(shared_data: Path, name: str) -> dict[str, Any]:
    raw = json.loads((shared_data / "azure-swagger" / name).read_text())
    return apply_overlay(swagger2_to_openapi3(raw), load_feature_overlay())


def _response(doc: dict[str, Any], path: str, method: str, status: str) -> Any:
    return doc["paths"][path][method]["responses"][status]["content"]


def test_committed_feature_overlay_is_what_the_data_gives(train_path: Path) -> None:
    derived = feature_overlay(derive_domain(train_path), "bankmarketing_train.csv")
    assert json.loads(FEATURE_OVERLAY.read_text()) == derived


def test_feature_overlay_values(train_path: Path) -> None:
    props = load_feature_overlay()["properties"]
    assert props["job"]["enum"][:2] == ["admin.", "blue-collar"]
    assert "astronaut" not in props["job"]["enum"]
    assert (props["pdays"]["minimum"], props["pdays"]["maximum"]) == (0, 999)
    assert "999 means the client was never contacted" in props["pdays"]["description"]
    # bounds are wider than the data: the sample ages 17 and 87 and a 99-year-old all pass
    assert props["age"]["minimum"] <= 17
    assert props["age"]["maximum"] >= 99
    assert props["nr.employed"]["minimum"] > 1000  # but a value in thousands (5.1) does not


@pytest.mark.parametrize(
    "name", ["v1-2020-09-data-realexample.json", "v2-2021-06-data-required.json", "v3-2021-12-data-method.json"]
)
def test_data_family_answers_a_double_encoded_string(shared_data: Path, name: str) -> None:
    doc = _overlaid(shared_data, name)
    assert family_of(doc).name in ("data", "data-method")
    assert _response(doc, "/score", "post", "200") == {
        "application/json": {"schema": {"type": "string"}, "example": '{"result": ["no", "yes"]}'}
    }
    assert "ServiceOutput" not in doc["components"]["schemas"]


@pytest.mark.parametrize("name", ["v4-2022-01-inputs-globalparams-noformat.json", "v7-2023-07-inputs-swaggerpath.json"])
def test_inputs_family_answers_results_of_any_json(shared_data: Path, name: str) -> None:
    doc = _overlaid(shared_data, name)
    output = doc["components"]["schemas"]["ServiceOutput"]
    assert output["required"] == ["Results"]
    assert output["properties"]["Results"]["items"] == {}  # labels for predict, lists for predict_proba
    method = doc["components"]["schemas"]["ServiceInput"]["properties"]["GlobalParameters"]["properties"]["method"]
    assert method["enum"] == ["predict", "predict_proba"]


def test_health_is_text_and_errors_are_not_parsed_as_json(shared_data: Path) -> None:
    doc = _overlaid(shared_data, "v6-2022-10-inputs-swaggerpath-statuscode.json")
    assert list(_response(doc, "/", "get", "200")) == ["text/plain"]
    for path, method in (("/", "get"), ("/score", "post"), ("/swagger.json", "get")):
        assert _response(doc, path, method, "default") == {"text/plain": {"schema": {"type": "string"}}}
    assert _response(doc, "/swagger.json", "get", "200")["application/json"]["schema"]["type"] == "object"
    assert "servers" not in doc


def test_records_get_categories_and_bounds_only_when_they_are_the_bank_features(shared_data: Path) -> None:
    bank = record_schema(_overlaid(shared_data, "v1-2020-12-data-placeholder.json"))["properties"]
    assert bank["month"]["enum"][0] == "apr"
    assert bank["euribor3m"]["type"] == "number"  # the swagger's type is kept
    bike = record_schema(_overlaid(shared_data, "udacity-exercise-bike-2020-08.json"))["properties"]
    assert not any("enum" in p or "minimum" in p for p in bike.values())


def test_input_is_not_modified_and_2_0_is_refused(shared_data: Path) -> None:
    raw = json.loads((shared_data / "azure-swagger" / "v5-2022-04-inputs-globalparams.json").read_text())
    converted = swagger2_to_openapi3(raw)
    before = json.dumps(converted)
    apply_overlay(converted, load_feature_overlay())
    assert json.dumps(converted) == before
    with pytest.raises(CodegenError, match=r"convert Swagger 2\.0 first"):
        apply_overlay(raw, None)


def test_family_is_the_clients_detection_on_every_real_swagger(shared_data: Path) -> None:
    """Codegen and the client read each swagger, 2.0 or converted to OpenAPI 3, as the same family."""
    from bankmarketing_client.contract import detect_contract

    swaggers = sorted((shared_data / "azure-swagger").glob("*.json"))
    assert swaggers
    for swagger in swaggers:
        raw = json.loads(swagger.read_text())
        client_family = detect_contract(raw).family
        assert family_of(raw).name == family_of(swagger2_to_openapi3(raw)).name == client_family, swagger.name


def test_a_swagger_without_a_scoring_input_is_one_codegen_error() -> None:
    doc = {"openapi": "3.0.3", "paths": {"/score": {"post": {}}}, "components": {"schemas": {}}}
    with pytest.raises(CodegenError, match="request body schema"):
        family_of(doc)
