"""The scoring container itself (real azmlinfsrv + our entry script), reached directly, without the front."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from openapi_spec_validator import validate

from bankmarketing_client import data
from bankmarketing_client.local import model as m
from bankmarketing_client.local.endpoint import LocalEndpoint


@pytest.fixture(scope="module")
def in_process(train_path: Path) -> m.BankMarketingModel:
    return m.load_model(m.ensure_model_dir(train_path))


@pytest.fixture(scope="module")
def holdout_records(train_path: Path) -> list[dict[str, Any]]:
    return m.sample_records(data.read_frame(data.resolve_holdout_path(train_path)).sample(60, random_state=1), 60)


def _post(endpoint: LocalEndpoint, body: Any, **kwargs: Any) -> httpx.Response:
    return httpx.post(endpoint.container_url + "/score", json=body, timeout=30, **kwargs)


def test_health(endpoint_inputs: LocalEndpoint) -> None:
    response = httpx.get(endpoint_inputs.container_url + "/", timeout=10)
    assert response.status_code == 200
    assert response.text == "Healthy"


@pytest.mark.parametrize("family", ["inputs", "data"])
@pytest.mark.parametrize("version", ["2", "3"])
def test_swagger_is_valid_and_describes_the_contract(family: str, version: str, request: pytest.FixtureRequest) -> None:
    endpoint: LocalEndpoint = request.getfixturevalue(f"endpoint_{family}")
    response = httpx.get(endpoint.container_url + "/swagger.json", params={"version": version}, timeout=10)
    assert response.status_code == 200
    spec = response.json()
    validate(spec)
    if version == "2":
        assert spec["swagger"] == "2.0"
        service_input = spec["definitions"]["ServiceInput"]
    else:
        assert spec["openapi"].startswith("3.0")
        service_input = spec["components"]["schemas"]["ServiceInput"]
    if family == "inputs":
        assert set(service_input["properties"]) == {"Inputs", "GlobalParameters"}
        records = service_input["properties"]["Inputs"]["properties"]["data"]
    else:
        assert set(service_input["properties"]) == {"data"}
        records = service_input["properties"]["data"]
    assert records["format"] == "pandas.DataFrame:records"
    properties = records["items"]["properties"]
    assert list(properties) == list(data.FEATURE_COLUMNS)
    assert properties["age"] == {"type": "integer", "format": "int64"}
    assert properties["emp.var.rate"] == {"type": "number", "format": "double"}
    assert properties["job"] == {"type": "string"}


def test_inputs_family_agrees_with_the_model(
    endpoint_inputs: LocalEndpoint, in_process: m.BankMarketingModel, holdout_records: list[dict[str, Any]]
) -> None:
    body = {"Inputs": {"data": holdout_records}, "GlobalParameters": {"method": "predict"}}
    response = _post(endpoint_inputs, body)
    assert response.status_code == 200
    assert response.json() == {"Results": in_process.predict_records(holdout_records)}
    assert response.headers["x-ms-run-function-failed"] == "False"

    body["GlobalParameters"] = {"method": "predict_proba"}
    proba = _post(endpoint_inputs, body).json()["Results"]
    np.testing.assert_allclose(proba, in_process.predict_proba_records(holdout_records), rtol=0, atol=1e-12)


def test_data_family_is_double_encoded_and_agrees(
    endpoint_data: LocalEndpoint, in_process: m.BankMarketingModel, holdout_records: list[dict[str, Any]]
) -> None:
    response = _post(endpoint_data, {"data": holdout_records})
    assert response.status_code == 200
    outer = response.json()
    assert isinstance(outer, str)  # a JSON string holding JSON, as Azure's AutoML script answered
    assert json.loads(outer) == {"result": in_process.predict_records(holdout_records)}


@pytest.mark.parametrize(
    ("sample", "family"),
    [
        ("data-2020-08-udacity-starter.json", "data"),
        ("data-2021-06-schema-order.json", "data"),
        ("data-2023-01-inputs-globalparams-single.json", "inputs"),
        ("data-2023-07-inputs-globalparams-benchmarked.json", "inputs"),
        ("data-2023-07-inputs-only.json", "inputs"),
    ],
)
def test_real_azure_request_files_score_on_their_family(
    sample: str,
    family: str,
    load_sample: Callable[[str], Any],
    in_process: m.BankMarketingModel,
    request: pytest.FixtureRequest,
) -> None:
    endpoint: LocalEndpoint = request.getfixturevalue(f"endpoint_{family}")
    body = load_sample(sample)
    response = _post(endpoint, body)
    assert response.status_code == 200
    records = body["data"] if family == "data" else body["Inputs"]["data"]
    expected = in_process.predict_records(records)
    if family == "data":
        assert json.loads(response.json()) == {"result": expected}
    else:
        assert response.json() == {"Results": expected}


def test_original_answer_bytes_are_reproduced(endpoint_data: LocalEndpoint, shared_data: Path) -> None:
    """The 2020 request gets the very body the original deployment answered (logged by ab)."""
    request_body = (shared_data / "azure-samples" / "data-2020-08-udacity-starter.json").read_bytes()
    response = httpx.post(
        endpoint_data.container_url + "/score",
        content=request_body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert (
        response.content == (shared_data / "azure-samples" / "response-2020-07-double-encoded-result.json").read_bytes()
    )


def _one_record(load_sample: Callable[[str], Any]) -> dict[str, Any]:
    record: dict[str, Any] = load_sample("data-2021-06-schema-order.json")["data"][0]
    return record


def test_invalid_json_is_400(endpoint_inputs: LocalEndpoint) -> None:
    response = httpx.post(
        endpoint_inputs.container_url + "/score",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400


def test_non_json_content_type_is_415(endpoint_inputs: LocalEndpoint) -> None:
    response = httpx.post(
        endpoint_inputs.container_url + "/score", content=b"age=1", headers={"Content-Type": "text/plain"}, timeout=10
    )
    assert response.status_code == 415


def test_missing_parameter_is_400(endpoint_inputs: LocalEndpoint) -> None:
    response = _post(endpoint_inputs, {"GlobalParameters": {"method": "predict"}})
    assert response.status_code == 400
    assert "Inputs" in response.json()["message"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        pytest.param(lambda r: r.pop("age"), "Inputs.data[0].age: required", id="missing-column"),
        pytest.param(lambda r: r.update(extra=1), 'Inputs.data[0]: unexpected field "extra"', id="extra-column"),
        pytest.param(
            lambda r: r.update(age="forty"), 'Inputs.data[0].age: expected an integer (int64), got "forty"', id="type"
        ),
        pytest.param(lambda r: r.update(age=40.5), "Inputs.data[0].age: expected an integer", id="fraction"),
        pytest.param(lambda r: r.update(age=2**63), "Inputs.data[0].age: expected an integer (int64)", id="int64"),
        pytest.param(lambda r: r.update(age=True), "Inputs.data[0].age: expected an integer", id="boolean"),
        pytest.param(lambda r: r.update(euribor3m=10**400), "Inputs.data[0].euribor3m: expected a finite", id="huge"),
        pytest.param(lambda r: r.update(job=7), "Inputs.data[0].job: expected a string, got 7", id="category-type"),
    ],
)
def test_bad_records_are_400_naming_the_field(
    endpoint_inputs: LocalEndpoint,
    load_sample: Callable[[str], Any],
    mutate: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    """Not the server's bare 500 'An unexpected error occurred in scoring script': the path of what to fix."""
    record = _one_record(load_sample)
    mutate(record)
    response = _post(endpoint_inputs, {"Inputs": {"data": [record]}, "GlobalParameters": {"method": "predict"}})
    assert response.status_code == 400
    assert response.headers["x-ms-run-function-failed"] == "False"
    assert response.json()["message"].startswith(message)


def test_non_finite_number_is_400(endpoint_inputs: LocalEndpoint, load_sample: Callable[[str], Any]) -> None:
    """Python's JSON parser reads NaN; the model would score it as a missing value, the contract says number."""
    record = _one_record(load_sample)
    record["euribor3m"] = float("nan")
    text = json.dumps({"Inputs": {"data": [record]}})  # the standard library writes the NaN literal
    response = httpx.post(
        endpoint_inputs.container_url + "/score",
        content=text,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Inputs.data[0].euribor3m: expected a finite number, got NaN"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param({"GlobalParameters": {"method": "predict"}}, "Inputs: required", id="no-inputs"),
        pytest.param({"Inputs": [1]}, "Inputs: expected an object, got an array", id="inputs-type"),
        pytest.param({"Inputs": {}}, "Inputs.data: required", id="no-data"),
        pytest.param({"Inputs": {"data": {}}}, "Inputs.data: expected an array of records", id="data-type"),
        pytest.param({"Inputs": {"data": []}}, "Inputs.data: no records to score", id="empty"),
        pytest.param({"Inputs": {"data": ["x"]}}, "Inputs.data[0]: expected an object, got a string", id="record"),
    ],
)
def test_bad_shapes_are_400_naming_the_field(endpoint_inputs: LocalEndpoint, body: Any, message: str) -> None:
    response = _post(endpoint_inputs, body)
    assert response.status_code == 400
    assert response.json()["message"].startswith(message)


@pytest.mark.parametrize(
    ("global_parameters", "message"),
    [
        pytest.param({"method": {}}, "GlobalParameters.method: {} is not one of predict, predict_proba", id="object"),
        pytest.param({"method": "explain"}, 'GlobalParameters.method: "explain" is not one of', id="unknown"),
        pytest.param({}, "GlobalParameters.method: required", id="missing"),
        pytest.param("predict", "GlobalParameters: expected an object, got a string", id="type"),
    ],
)
def test_bad_method_is_400_naming_the_field(
    endpoint_inputs: LocalEndpoint, load_sample: Callable[[str], Any], global_parameters: Any, message: str
) -> None:
    """The issue's example: ``"method": {}`` used to give 'An unexpected error occurred in scoring script'."""
    body = {"Inputs": {"data": [_one_record(load_sample)]}, "GlobalParameters": global_parameters}
    response = _post(endpoint_inputs, body)
    assert response.status_code == 400
    assert response.json()["message"].startswith(message)


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda r: r.update(age=40.0), id="whole-float-integer"),
        pytest.param(lambda r: r.update(duration=2**63 - 1), id="int64-max"),
        pytest.param(lambda r: r.update(euribor3m=4), id="integer-for-a-double"),
        pytest.param(lambda r: r.update(job="astronaut"), id="unknown-category"),
    ],
)
def test_values_the_contract_allows_are_scored(
    endpoint_inputs: LocalEndpoint,
    in_process: m.BankMarketingModel,
    load_sample: Callable[[str], Any],
    mutate: Callable[[dict[str, Any]], None],
) -> None:
    """The checks refuse what the swagger refuses, nothing more (unknown categories are the model's business)."""
    record = _one_record(load_sample)
    mutate(record)
    response = _post(endpoint_inputs, {"Inputs": {"data": [record]}, "GlobalParameters": None})
    assert response.status_code == 200, response.text
    assert response.json() == {"Results": in_process.predict_records([record])}


def test_data_family_prediction_error_is_a_200_with_error(
    endpoint_data: LocalEndpoint, load_sample: Callable[[str], Any]
) -> None:
    record = _one_record(load_sample)
    record["age"] = "forty"
    response = _post(endpoint_data, {"data": [record]})
    assert response.status_code == 200
    decoded = json.loads(response.json())
    assert decoded == {"error": 'data[0].age: expected an integer (int64), got "forty"'}


def test_data_family_bad_shape_is_400_naming_the_field(
    endpoint_data: LocalEndpoint, load_sample: Callable[[str], Any]
) -> None:
    """The request's shape was refused before run() (a 500) and still is refused, now with the field's path."""
    record = _one_record(load_sample)
    record["extra"] = 1
    response = _post(endpoint_data, {"data": [record]})
    assert response.status_code == 400
    assert response.json() == {"message": 'data[0]: unexpected field "extra"'}
    empty = _post(endpoint_data, {"data": []})
    assert (empty.status_code, empty.json()) == (400, {"message": "data: no records to score"})
