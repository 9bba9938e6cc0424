"""The generated low-level clients against the real local endpoint: the overlay's types are the real ones."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bankmarketing_client._generated import data as gen_data
from bankmarketing_client._generated import inputs as gen_inputs
from bankmarketing_client._generated.data import models as data_models
from bankmarketing_client._generated.data.api.default import run_ml_service as data_score
from bankmarketing_client._generated.inputs.api.default import get_swagger_spec, service_health_check
from bankmarketing_client._generated.inputs.api.default import run_ml_service as inputs_score
from bankmarketing_client._generated.inputs.models import (
    Record,
    ServiceInput,
    ServiceInputGlobalParameters,
    ServiceInputGlobalParametersMethod,
    ServiceInputInputs,
    ServiceOutput,
)
from bankmarketing_client.features import validate_records
from bankmarketing_client.local.endpoint import LocalEndpoint


@pytest.fixture(scope="module")
def rows(load_sample: Any) -> list[dict[str, Any]]:
    return list(load_sample("data-2023-07-inputs-only.json")["Inputs"]["data"])


def test_health_check_is_plain_text(endpoint_inputs: LocalEndpoint) -> None:
    with gen_inputs.Client(base_url=endpoint_inputs.base_url) as client:
        assert service_health_check.sync(client=client) == "Healthy"


def test_swagger_operation_returns_the_document(endpoint_inputs: LocalEndpoint) -> None:
    with gen_inputs.Client(base_url=endpoint_inputs.base_url) as client:
        response = get_swagger_spec.sync_detailed(client=client)
    assert response.status_code == 200
    assert json.loads(response.content)["swagger"] == "2.0"


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_inputs_family_scores_validated_records(
    endpoint_inputs: LocalEndpoint, rows: list[dict[str, Any]], method: str
) -> None:
    records = [Record.from_dict(r.to_wire()) for r in validate_records(rows)]
    body = ServiceInput(
        inputs=ServiceInputInputs(data=records),
        global_parameters=ServiceInputGlobalParameters(method=ServiceInputGlobalParametersMethod(method)),
    )
    with gen_inputs.AuthenticatedClient(base_url=endpoint_inputs.base_url, token=endpoint_inputs.primary_key) as c:
        answer = inputs_score.sync(client=c, body=body)
    assert isinstance(answer, ServiceOutput)
    assert len(answer.results) == len(rows)
    if method == "predict":
        assert set(answer.results) <= {"yes", "no"}
    else:
        assert all(len(p) == 2 and abs(sum(p) - 1) < 1e-6 for p in answer.results)


def test_data_family_answer_is_a_double_encoded_string(
    endpoint_data: LocalEndpoint, rows: list[dict[str, Any]]
) -> None:
    records = [data_models.Record.from_dict(r) for r in rows]
    body = data_models.ServiceInput(data=records)
    with gen_data.AuthenticatedClient(base_url=endpoint_data.base_url, token=endpoint_data.primary_key) as c:
        response = data_score.sync_detailed(client=c, body=body)
    assert response.status_code == 200
    assert isinstance(response.parsed, str)
    assert set(json.loads(response.parsed)["result"]) <= {"yes", "no"}


def test_errors_are_read_as_text_not_parsed_as_json(endpoint_inputs: LocalEndpoint) -> None:
    body = ServiceInput(inputs=ServiceInputInputs(data=[]))
    with gen_inputs.AuthenticatedClient(base_url=endpoint_inputs.base_url, token="wrong-key") as c:
        unauthorised = inputs_score.sync_detailed(client=c, body=body)
    assert unauthorised.status_code == 401
    assert isinstance(unauthorised.parsed, str)
    with gen_inputs.AuthenticatedClient(base_url=endpoint_inputs.base_url, token=endpoint_inputs.primary_key) as c:
        failed = inputs_score.sync_detailed(client=c, body=body)  # no records: the scoring script fails
    assert failed.status_code >= 400
    assert isinstance(failed.parsed, str)
