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
    "mutate",
    [
        pytest.param(lambda r: r.pop("age"), id="wrong-column-count"),
        pytest.param(lambda r: r.update(age="forty"), id="wrong-type"),
    ],
)
def test_bad_records_are_500_with_run_function_failed(
    endpoint_inputs: LocalEndpoint, load_sample: Callable[[str], Any], mutate: Callable[[dict[str, Any]], None]
) -> None:
    record = _one_record(load_sample)
    mutate(record)
    response = _post(endpoint_inputs, {"Inputs": {"data": [record]}, "GlobalParameters": {"method": "predict"}})
    assert response.status_code == 500
    assert response.headers["x-ms-run-function-failed"] == "True"
    assert "unexpected error" in response.json()["message"]


def test_empty_data_is_500(endpoint_inputs: LocalEndpoint) -> None:
    response = _post(endpoint_inputs, {"Inputs": {"data": []}, "GlobalParameters": {"method": "predict"}})
    assert response.status_code == 500


def test_unknown_method_is_500(endpoint_inputs: LocalEndpoint, load_sample: Callable[[str], Any]) -> None:
    body = {"Inputs": {"data": [_one_record(load_sample)]}, "GlobalParameters": {"method": "explain"}}
    assert _post(endpoint_inputs, body).status_code == 500


def test_data_family_prediction_error_is_a_200_with_error(
    endpoint_data: LocalEndpoint, load_sample: Callable[[str], Any]
) -> None:
    record = _one_record(load_sample)
    record["age"] = "forty"
    response = _post(endpoint_data, {"data": [record]})
    assert response.status_code == 200
    decoded = json.loads(response.json())
    assert set(decoded) == {"error"}
    assert "row 1, age" in decoded["error"]


def test_data_family_wrong_column_count_is_500(endpoint_data: LocalEndpoint, load_sample: Callable[[str], Any]) -> None:
    record = _one_record(load_sample)
    record["extra"] = 1
    assert _post(endpoint_data, {"data": [record]}).status_code == 500
