"""Locust on the ``mlflow`` family against the real ``local serve --contract mlflow``: ``--contract mlflow`` and
``auto`` send split frames the endpoint answers with 200; probabilities only where the deployment offers them."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_loadtest_runs import run_locust

from bankmarketing_client.local.endpoint import LocalEndpoint


@pytest.mark.parametrize("contract", ["mlflow", "auto"])
def test_batches_and_the_benchmark_body_score_without_failures(
    tmp_path: Path, train_path: Path, endpoint_mlflow: LocalEndpoint, contract: str
) -> None:
    before = endpoint_mlflow.stats()
    run = run_locust(
        tmp_path, train_path,
        "--host", endpoint_mlflow.scoring_uri, "--contract", contract, "--max-requests", "12", "--batch-size", "8",
        "--show-responses", "BatchScoringUser", "BenchmarkUser",
        env={"BANKMARKETING_API_KEY": endpoint_mlflow.primary_key},
    )  # fmt: skip
    assert run.code == 0, run.output[-3000:]
    assert (run.requests, run.failures) == (12, 0)
    assert endpoint_mlflow.stats()["200"] - before.get("200", 0) == 12
    assert '["no"' in run.output or '["yes"' in run.output  # a bare list of labels, Azure's no-code answer


def test_predict_proba_runs_on_the_probabilities_deployment_and_stops_on_the_labels_one(
    tmp_path: Path, train_path: Path, endpoint_mlflow: LocalEndpoint
) -> None:
    common = ["--host", endpoint_mlflow.scoring_uri, "--method", "predict_proba", "--max-requests", "6"]
    env = {"BANKMARKETING_API_KEY": endpoint_mlflow.primary_key}
    green = run_locust(tmp_path, train_path, *common, "--deployment", "green", "BatchScoringUser", env=env, users=1)
    assert green.code == 0, green.output[-3000:]
    assert (green.requests, green.failures) == (6, 0)
    before = endpoint_mlflow.stats()["requests"]
    blue = run_locust(tmp_path, train_path, *common, "BatchScoringUser", env=env, users=1)
    assert blue.code == 2, blue.output[-3000:]
    assert "--method predict_proba: this 'mlflow' endpoint offers no probabilities" in blue.output
    assert endpoint_mlflow.stats()["requests"] == before  # stopped at set-up: not one scoring request
