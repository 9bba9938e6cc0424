"""``local serve --contract mlflow``: the real azmlinfsrv serving the trees as a real MLflow model, through the
command line as a user starts it, and the model folder it is served from."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.local.process import LocalEndpointError


def _read_until(proc: subprocess.Popen[bytes], marker: str, timeout: float) -> str:
    assert proc.stdout is not None
    fd, seen, deadline = proc.stdout.fileno(), b"", time.monotonic() + timeout
    while marker.encode() not in seen and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.5)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            seen += chunk
    return seen.decode()


def test_cli_serves_a_labels_and_a_probabilities_deployment(load_sample: Any) -> None:
    sample_records: list[dict[str, Any]] = load_sample("data-2021-06-schema-order.json")["data"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bankmarketing_client.cli", "local", "serve", "--contract", "mlflow",
         "--primary-key", "k-primary-123", "--workers", "1",
         "--deployment", "blue", "--deployment", "green=default,answers=probabilities", "--traffic", "blue=100"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        out = _read_until(proc, "ready", 120)
        assert "ready" in out, out
        assert "contract:    mlflow" in out
        assert "deployment:  green (model default, answers probabilities, traffic 0 %)" in out
        uri = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("scoring URI"))
        columns = list(sample_records[0])
        body = {"input_data": {"columns": columns, "index": [0, 1], "data": [list(r.values()) for r in sample_records]}}
        headers = {"Authorization": "Bearer k-primary-123"}
        labels = httpx.post(uri, json=body, headers=headers, timeout=60)
        assert labels.status_code == 200, labels.text
        assert all(label in ("no", "yes") for label in labels.json())
        pairs = httpx.post(uri, json=body, headers={**headers, "azureml-model-deployment": "green"}, timeout=60)
        assert pairs.status_code == 200, pairs.text
        assert [("yes" if p > 0.5 else "no") for _, p in pairs.json()] == labels.json()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_answers_is_an_mlflow_setting_refused_for_an_inputs_endpoint() -> None:
    endpoint = LocalEndpoint(contract="inputs", deployments=["blue=default,answers=probabilities"])
    with pytest.raises(LocalEndpointError, match="answers=probabilities is an MLflow model's setting"):
        endpoint.start()
    assert endpoint.children() == []


def test_the_mlflow_model_is_the_inputs_familys_trees_saved_with_its_signature(train_path: Path) -> None:
    import mlflow.pyfunc
    import yaml

    from bankmarketing_client.data import FEATURE_COLUMNS, read_frame
    from bankmarketing_client.local.mlflow_model import MLFLOW_FOLDER, ensure_mlflow_model
    from bankmarketing_client.local.model import ensure_model_dir, load_model

    frame = read_frame(train_path).head(500)
    trees = load_model(ensure_model_dir(train_path))
    expected = trees.proba_yes(trees.encode_frame(frame))
    for answers, predict_fn in (("labels", "predict"), ("probabilities", "predict_proba")):
        root = ensure_mlflow_model(train_path, answers=answers)
        assert ensure_mlflow_model(train_path, answers=answers) == root  # cached, not saved again
        mlmodel = yaml.safe_load((root / MLFLOW_FOLDER / "MLmodel").read_text())
        assert mlmodel["flavors"]["python_function"]["predict_fn"] == predict_fn
        assert mlmodel["flavors"]["sklearn"]["serialization_format"] == "cloudpickle"
        inputs = json.loads(mlmodel["signature"]["inputs"])
        assert [c["name"] for c in inputs] == list(FEATURE_COLUMNS)
        predicted = mlflow.pyfunc.load_model(str(root / MLFLOW_FOLDER)).predict(frame[list(FEATURE_COLUMNS)])
        if answers == "labels":
            assert predicted.tolist() == ["yes" if p > 0.5 else "no" for p in expected.tolist()]
        else:
            assert predicted[:, 1].tolist() == expected.tolist()
