"""Contract detection on Azure's real swagger files, body building, and decoding of Azure's real answers.

The swagger and answer files are the real ones from ``shared/data`` (read through the ``shared_data`` fixture,
never copied into the repository); the OpenAPI 3 documents come from the real local endpoints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bankmarketing_client.contract import (
    Contract,
    decode_results,
    decode_scores,
    detect_contract,
    encode,
    label_of,
    to_predictions,
)
from bankmarketing_client.errors import ConfigurationError, ModelError, UnexpectedResponseError
from bankmarketing_client.local.endpoint import LocalEndpoint

pytest_plugins = ["scoring_support"]

SWAGGER_FAMILIES = {
    "v1-2020-09-data-realexample.json": "data",
    "v1-2020-12-data-placeholder.json": "data",
    "v2-2021-06-data-required.json": "data",
    "v3-2021-12-data-method.json": "data-method",
    "v4-2022-01-inputs-globalparams-noformat.json": "inputs",
    "v5-2022-04-inputs-globalparams.json": "inputs",
    "v6-2022-10-inputs-swaggerpath-statuscode.json": "inputs",
    "v7-2023-07-inputs-swaggerpath.json": "inputs",
    "v8-mlflow-ncd-derived.json": "mlflow",
}


@pytest.mark.parametrize(("name", "family"), sorted(SWAGGER_FAMILIES.items()))
def test_detects_the_family_of_every_real_azure_swagger(shared_data: Path, name: str, family: str) -> None:
    spec = json.loads((shared_data / "azure-swagger" / name).read_text())
    assert detect_contract(spec).family == family


def test_all_real_swaggers_are_covered(shared_data: Path) -> None:
    found = {p.name for p in (shared_data / "azure-swagger").glob("v*.json")}
    assert found == set(SWAGGER_FAMILIES)


@pytest.mark.parametrize("version", [None, "3", "3.1"])
def test_detects_both_local_families_from_swagger_2_and_openapi_3(
    endpoint_inputs: LocalEndpoint, endpoint_data: LocalEndpoint, version: str | None
) -> None:
    import httpx

    for endpoint, family in ((endpoint_inputs, "inputs"), (endpoint_data, "data")):
        params = {"version": version} if version else None
        spec = httpx.get(endpoint.swagger_uri, params=params, timeout=10).json()
        assert detect_contract(spec).family == family


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({}, "no POST /score"),
        ({"paths": {"/score": {"post": {}}}}, "no request body schema"),
        (
            {"paths": {"/score": {"post": {"parameters": [{"in": "body", "schema": {"properties": {"x": {}}}}]}}}},
            r"unknown scoring input \(properties: x\)",
        ),
    ],
)
def test_undetectable_swaggers_say_what_to_do(spec: dict[str, Any], reason: str) -> None:
    with pytest.raises(ConfigurationError, match=reason) as caught:
        detect_contract(spec)
    assert "contract" in str(caught.value)


def test_bodies_match_azures_own_samples(load_sample: Any) -> None:
    single = load_sample("data-2023-01-inputs-globalparams-single.json")
    records = single["Inputs"]["data"]
    assert Contract("inputs").build_body(records) == single
    data = load_sample("data-2021-06-schema-order.json")
    assert Contract("data").build_body(data["data"]) == data
    assert Contract("data-method").build_body(data["data"]) == {**data, "method": "predict"}
    proba = Contract("inputs").build_body(records, method="predict_proba")
    assert proba["GlobalParameters"] == {"method": "predict_proba"}


@pytest.mark.parametrize("family", ["data", "data-method"])
def test_data_families_offer_no_probabilities(family: str) -> None:
    contract = Contract.of(family)
    assert not contract.supports_proba
    with pytest.raises(ConfigurationError, match="predict_proba needs an 'inputs' endpoint"):
        contract.build_body([{}], method="predict_proba")


def test_contract_names_are_checked() -> None:
    assert Contract.of(" Data_Method ") == Contract("data-method")
    with pytest.raises(ConfigurationError, match="unknown contract 'soap'"):
        Contract.of("soap")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("response-2020-07-double-encoded-result.json", ["yes", "no"]),
        ("response-2021-12-double-encoded-result.json", ["no", "no"]),
        ("response-2023-07-results.json", ["no", "no"]),
    ],
)
def test_decodes_azures_real_answers(shared_data: Path, name: str, expected: list[str]) -> None:
    body = (shared_data / "azure-samples" / name).read_bytes()
    results = decode_results(body)
    assert results == expected
    assert [p.label for p in to_predictions(results, len(expected), proba=False)] == expected


def test_double_encoded_error_raises_model_error() -> None:
    body = json.dumps(json.dumps({"error": "could not convert string to float: 'abc'"})).encode()
    with pytest.raises(ModelError, match="could not convert string to float") as caught:
        decode_results(body, request_id="r-1")
    assert caught.value.status == 200
    assert caught.value.request_id == "r-1"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>oops</html>", "not JSON"),
        (b'"not json inside"', "not JSON"),
        (b'{"Results": 3}', "no list of results"),
        (b"42", "no list of results"),
    ],
)
def test_answers_that_are_not_results(body: bytes, reason: str) -> None:
    with pytest.raises(UnexpectedResponseError, match=reason):
        decode_results(body)


def test_results_must_align_with_the_records_sent() -> None:
    with pytest.raises(UnexpectedResponseError, match="sent 3 records but got 2 results"):
        to_predictions(["no", "yes"], 3, proba=False)


def test_probability_pairs_and_labels() -> None:
    predictions = to_predictions([[0.9, 0.1], [0.2, 0.8], {"no": 0.5, "yes": 0.5}], 3, proba=True, start_row=11)
    assert [(p.row, p.label, p.probability) for p in predictions] == [
        (11, "no", 0.1),
        (12, "yes", 0.8),
        (13, "no", 0.5),
    ]
    assert predictions[1].subscribed
    assert not predictions[0].subscribed


def test_column_decoding_equals_the_typed_decoder() -> None:
    """The batch's columns (fast paths: Arrow's number parser, numpy) give exactly the typed decoder's answers."""
    import random

    rng = random.Random(3)
    pairs = [[1 - p, p] for p in (rng.random() for _ in range(500))] + [[0.5, 0.5], [1.0, 0.0]]
    for body in (
        json.dumps({"Results": pairs}).encode(),  # the Arrow path
        json.dumps({"Results": pairs}, separators=(",", ":")).encode(),
        json.dumps(json.dumps({"result": pairs})).encode(),  # double encoded: the numpy path
        json.dumps({"Results": [{"no": 1 - p, "yes": p} for _, p in pairs]}).encode(),  # the full decoder
    ):
        scores = decode_scores(body, len(pairs), proba=True)
        typed = to_predictions(decode_results(body), len(pairs), proba=True)
        assert scores.labels == [p.label for p in typed]
        assert scores.probabilities == [p.probability for p in typed]
    labels = decode_scores(json.dumps({"Results": ["no", "yes", 1]}).encode(), 3, proba=False)
    assert labels.labels == ["no", "yes", "yes"]


@pytest.mark.parametrize(
    ("body", "expected", "error", "match"),
    [
        (json.dumps({"Results": [[0.5, 0.5]] * 3}).encode(), 4, UnexpectedResponseError, "sent 4 records but got 3"),
        (json.dumps({"Results": [[0.5, 0.5], [0.1, 1.5]]}).encode(), 2, UnexpectedResponseError, "result for row 2"),
        (b'"{\\"error\\": \\"bad\\"}"', 1, ModelError, "bad"),
    ],
)
def test_column_decoding_refuses_what_the_typed_decoder_refuses(
    body: bytes, expected: int, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        decode_scores(body, expected, proba=True)


def test_the_label_rule_is_p_yes_over_one_half() -> None:
    assert [label_of(p) for p in (0.0, 0.5, 0.5000001, 1.0)] == ["no", "no", "yes", "yes"]


def test_integer_labels_of_the_v1_swagger_map_to_yes_no() -> None:
    assert [p.label for p in to_predictions([0, 1], 2, proba=False)] == ["no", "yes"]


@pytest.mark.parametrize("value", [[0.1, 1.7], "high", [0.5], None, True])
def test_bad_probabilities_are_refused_with_the_row(value: Any) -> None:
    with pytest.raises(UnexpectedResponseError, match="result for row 2"):
        to_predictions([[0.5, 0.5], value], 2, proba=True)


def test_encode_is_compact_and_refuses_nan() -> None:
    assert encode({"a": [1, "é"]}) == '{"a":[1,"é"]}'.encode()
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        encode({"a": float("nan")})


@pytest.mark.parametrize("family", ["inputs", "data", "data-method"])
def test_spliced_bodies_equal_built_bodies(load_sample: Any, family: str) -> None:
    records = load_sample("data-2021-06-schema-order.json")["data"]
    contract = Contract.of(family)
    methods = ["predict", "predict_proba"] if contract.supports_proba else ["predict"]
    for method in methods:
        spliced = contract.body_bytes(encode(records), method=method)  # type: ignore[arg-type]
        assert json.loads(spliced) == contract.build_body(records, method=method)  # type: ignore[arg-type]
    if not contract.supports_proba:
        with pytest.raises(ConfigurationError):
            contract.body_bytes(b"[]", method="predict_proba")
