"""The ``mlflow`` family end to end, against the real ``local serve --contract mlflow`` (azmlinfsrv running an
MLflow model through a scoring script that answers as Azure's no-code ``mlflow_score_script.py`` does).

Checked against code no one here wrote: the bodies the client sends are parsed by mlflow's own
``infer_and_parse_data`` with the model's signature, and the endpoint's answers equal the MLflow model's own
``predict`` on that frame.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from scoring_helpers import Record, RecordingTransport

from bankmarketing_client import AsyncScoringClient, ScoringClient
from bankmarketing_client.contract import Contract
from bankmarketing_client.errors import ConfigurationError, ModelError
from bankmarketing_client.local.endpoint import LocalEndpoint

pytest_plugins = ["scoring_support"]


def _stats_requests(endpoint: LocalEndpoint) -> int:
    return endpoint.stats()["requests"]


def test_labels_equal_the_inputs_endpoints_for_the_same_rows_on_both_faces(
    endpoint_mlflow: LocalEndpoint, endpoint_inputs: LocalEndpoint, holdout_records: list[Record]
) -> None:
    with ScoringClient(endpoint_inputs.scoring_uri, endpoint_inputs.primary_key) as client:
        expected = [p.label for p in client.predict(holdout_records)]
    assert set(expected) == {"yes", "no"}
    with ScoringClient(endpoint_mlflow.scoring_uri, endpoint_mlflow.primary_key) as client:
        assert client.detect_contract() == Contract("mlflow")
        assert [p.label for p in client.predict(holdout_records)] == expected

    async def run() -> list[str]:
        async with AsyncScoringClient(endpoint_mlflow.scoring_uri, endpoint_mlflow.primary_key) as client:
            return [p.label for p in await client.predict(holdout_records)]

    assert asyncio.run(run()) == expected


def test_the_probabilities_deployment_answers_predict_proba_as_the_inputs_endpoint(
    endpoint_mlflow: LocalEndpoint, endpoint_inputs: LocalEndpoint, holdout_records: list[Record]
) -> None:
    with ScoringClient(endpoint_inputs.scoring_uri, endpoint_inputs.primary_key) as client:
        expected = client.predict_proba(holdout_records)
    uri, key = endpoint_mlflow.scoring_uri, endpoint_mlflow.primary_key
    with ScoringClient(uri, key, deployment="green") as client:
        assert client.detect_contract() == Contract("mlflow", probabilities=True)
        got = client.predict_proba(holdout_records)
        labels = client.predict(holdout_records)  # the deployment answers pairs: labels by the one label rule
    assert [p.label for p in got] == [p.label for p in expected] == [p.label for p in labels]
    assert [p.probability for p in got] == pytest.approx([p.probability for p in expected], abs=1e-12)
    assert all(p.probability is None for p in labels)


def test_predict_proba_is_refused_before_sending_where_the_deployment_answers_labels(
    endpoint_mlflow: LocalEndpoint, holdout_records: list[Record]
) -> None:
    with ScoringClient(endpoint_mlflow.scoring_uri, endpoint_mlflow.primary_key) as client:
        client.detect_contract()
        before = _stats_requests(endpoint_mlflow)
        with pytest.raises(ConfigurationError, match="only predicts labels; probabilities need a deployment"):
            client.predict_proba(holdout_records)
        assert _stats_requests(endpoint_mlflow) == before


def test_a_failing_scoring_script_is_a_model_error_that_says_so_and_is_not_retried(
    endpoint_mlflow: LocalEndpoint,
) -> None:
    missing_column = {"input_data": {"columns": ["age"], "index": [0], "data": [[41]]}}
    with ScoringClient(endpoint_mlflow.scoring_uri, endpoint_mlflow.primary_key) as client:
        before = _stats_requests(endpoint_mlflow)
        with pytest.raises(ModelError) as caught:
            client.request(missing_column)
    assert _stats_requests(endpoint_mlflow) == before + 1  # a deterministic failure: one attempt only
    error = caught.value
    assert error.status == 424
    assert str(error).startswith("the scoring script failed on this input (container status 500: An unexpected")
    assert "the detail is only in the deployment's log" in str(error)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"data": [{"age": 1}]}, "A value is not provided for the 'input_data' parameter."),
        ([1, 2], "POST body should be a JSON dictionary."),
    ],
)
def test_a_body_the_script_refuses_is_a_clear_error(endpoint_mlflow: LocalEndpoint, body: Any, message: str) -> None:
    with (
        ScoringClient(endpoint_mlflow.scoring_uri, endpoint_mlflow.primary_key) as client,
        pytest.raises(ModelError) as caught,
    ):
        client.request(body)
    assert str(caught.value).startswith(f"the scoring container refused the request (container status 400: {message})")


def test_a_non_json_content_type_is_azures_415_wrapped_in_a_424(endpoint_mlflow: LocalEndpoint) -> None:
    """The client always sends JSON, so this one is sent by hand: the endpoint answers as Azure's does."""
    answer = httpx.post(
        endpoint_mlflow.scoring_uri,
        content=b"{}",
        headers={"Authorization": f"Bearer {endpoint_mlflow.primary_key}", "Content-Type": "text/plain"},
        timeout=30,
    )
    assert answer.status_code == 424
    assert answer.headers["ms-azureml-model-error-statuscode"] == "415"
    assert answer.json() == {"message": "Expects Content-Type to be application/json"}


def _mlflow_model(endpoint: LocalEndpoint, answers: str) -> Any:
    import mlflow.pyfunc

    from bankmarketing_client.local.mlflow_model import MLFLOW_FOLDER, ensure_mlflow_model

    root = ensure_mlflow_model(endpoint.data_path, answers=answers)
    return mlflow.pyfunc.load_model(str(root / MLFLOW_FOLDER))


@pytest.mark.parametrize(("deployment", "answers"), [("blue", "labels"), ("green", "probabilities")])
def test_bodies_pass_mlflows_own_parser_and_answers_equal_the_models_predict(
    endpoint_mlflow: LocalEndpoint, holdout_records: list[Record], deployment: str, answers: str
) -> None:
    from mlflow.pyfunc.scoring_server import infer_and_parse_data

    model = _mlflow_model(endpoint_mlflow, answers)
    transport = RecordingTransport()
    uri, key = endpoint_mlflow.scoring_uri, endpoint_mlflow.primary_key
    with (
        httpx.Client(transport=transport) as http,
        ScoringClient(uri, key, deployment=deployment, http_client=http) as client,
    ):
        client.detect_contract()
        result = client.score(holdout_records, proba=answers == "probabilities")
    (sent,) = [r for r in transport.sent if r.method == "POST"]
    body = json.loads(sent.content)
    assert set(body) == {"input_data"}
    assert list(body["input_data"]) == ["columns", "index", "data"]
    frame = infer_and_parse_data({"dataframe_split": body["input_data"]}, model.metadata.get_input_schema())
    assert list(frame.columns) == body["input_data"]["columns"]
    assert len(frame) == len(holdout_records)
    predicted = model.predict(frame).tolist()
    assert json.loads(result.body) == predicted  # the endpoint's answer, as the model's own predict gives it
    if answers == "labels":
        assert [p.label for p in result.predictions] == predicted
    else:
        assert [p.probability for p in result.predictions] == [pair[1] for pair in predicted]


def test_the_swagger_the_endpoint_serves_is_the_committed_snapshot(endpoint_mlflow: LocalEndpoint) -> None:
    from codegen.project import snapshot_path

    for version, params in ((2, None), (3, {"version": "3"})):
        served = httpx.get(endpoint_mlflow.swagger_uri, params=params, timeout=30).json()
        assert served == json.loads(Path(snapshot_path("mlflow", version)).read_text()), version


def test_the_containers_own_500_is_the_same_model_error_without_the_front(endpoint_mlflow: LocalEndpoint) -> None:
    """Straight to the container (as a local container or a proxy without Azure's 424 would answer)."""
    missing_column = {"input_data": {"columns": ["age"], "index": [0], "data": [[41]]}}
    with (
        ScoringClient(endpoint_mlflow.container_url + "/score", "no-key-needed") as client,
        pytest.raises(ModelError) as caught,
    ):
        client.request(missing_column)
    assert caught.value.status == 500
    assert str(caught.value).startswith("the scoring script failed on this input; the detail is only in its log")
