"""The entry script the real ``azmlinfsrv`` runs: ``init()`` loads the model, ``run()`` scores.

The contract family is chosen at start with ``BANKMARKETING_CONTRACT`` (``inputs``, the default, or ``data``), and
the inference-schema decorators make the server generate the matching swagger, as Azure's AutoML scripts did:

* ``data`` (2020-2021): ``{"data": [records]}`` in; a double-encoded ``"{\\"result\\": [...]}"`` out; a failed
  prediction is caught and returned as HTTP 200 with a double-encoded ``{"error": ...}``, as the original did.
* ``inputs`` (2022-): ``{"Inputs": {"data": [records]}, "GlobalParameters": {"method": ...}}`` in;
  ``{"Results": [...]}`` out; failures raise, and the server answers 500.

Records are handed to the model as they arrived (no pandas round trip): see :class:`RecordsParameterType`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema, output_schema

from bankmarketing_client.local.model import BankMarketingModel, RecordError, load_model, load_schema

CONTRACT_ENV = "BANKMARKETING_CONTRACT"
DELAY_ENV = "BANKMARKETING_MODEL_DELAY_MS"
_DELAY_SECONDS = float(os.environ.get(DELAY_ENV) or 0) / 1000  # read once, not on every request
CONTRACTS = ("inputs", "data")
METHODS = ("predict", "predict_proba")

CONTRACT = os.environ.get(CONTRACT_ENV, "inputs")
if CONTRACT not in CONTRACTS:
    raise RuntimeError(f"{CONTRACT_ENV} must be one of {', '.join(CONTRACTS)}, not {CONTRACT!r}")
MODEL_DIR = Path(os.environ.get("AZUREML_MODEL_DIR", "."))
_SCHEMA = load_schema(MODEL_DIR)
_FEATURES: list[str] = _SCHEMA["features"]
_INTEGER = set(_SCHEMA["integer"])
_FLOAT = set(_SCHEMA["float"])


def _sample_frame() -> pd.DataFrame:
    """A typed frame of two real rows: inference-schema derives the swagger's properties and example from it."""
    columns: dict[str, Any] = {}
    for name in _FEATURES:
        values = [record[name] for record in _SCHEMA["sample"]]
        dtype = np.int64 if name in _INTEGER else np.float64 if name in _FLOAT else object
        columns[name] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(columns)


class RecordsParameterType(PandasParameterType):  # type: ignore[misc]
    """Described to swagger exactly as a ``pandas.DataFrame:records`` parameter, but not converted to pandas.

    Building a DataFrame from a few JSON records costs several times more than scoring them; the model encodes
    records itself and refuses a record with a missing, extra or mistyped column, as the pandas path would.
    """

    def deserialize_input(self, input_data: Any) -> list[dict[str, Any]]:
        if not isinstance(input_data, list):
            raise ValueError(f"expected a list of records, got {type(input_data).__name__}")
        if not input_data:
            raise ValueError("no records to score")
        expected = len(_FEATURES)
        for index, record in enumerate(input_data, start=1):
            if not isinstance(record, dict):
                raise ValueError(f"row {index}: expected an object, got {type(record).__name__}")
            if len(record) != expected:
                raise ValueError(f"row {index}: data frame has size {len(record)} on dimension #1, expected {expected}")
        return input_data


model: BankMarketingModel | None = None


def init() -> None:
    """Called once per worker by the inference server."""
    global model
    model = load_model(MODEL_DIR)


def _score(records: list[dict[str, Any]], method: str) -> list[Any]:
    if model is None:
        raise RuntimeError("init() has not run")
    if _DELAY_SECONDS > 0:  # a deliberately slow model, for timeout tests
        time.sleep(_DELAY_SECONDS)
    if method == "predict":
        return list(model.predict_records(records))
    if method == "predict_proba":
        return list(model.predict_proba_records(records))
    raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")


_RECORDS = RecordsParameterType(_sample_frame())

if CONTRACT == "inputs":

    @input_schema("Inputs", StandardPythonParameterType({"data": _RECORDS}))
    @input_schema(
        "GlobalParameters", StandardPythonParameterType({"method": "predict"}), convert_to_provided_type=False
    )
    @output_schema(StandardPythonParameterType({"Results": NumpyParameterType(np.array(["no", "yes"]))}))
    def run(Inputs: dict[str, Any], GlobalParameters: dict[str, Any] | None = None) -> dict[str, Any]:
        method = (GlobalParameters or {}).get("method", "predict")
        try:
            return {"Results": _score(Inputs["data"], method)}
        except RecordError as exc:  # the server logs it and answers 500, as Azure's container does
            raise ValueError(str(exc)) from exc

else:

    @input_schema("data", _RECORDS)
    @output_schema(StandardPythonParameterType(["no", "yes"]))
    def run(data: list[dict[str, Any]]) -> str:
        try:
            return json.dumps({"result": _score(data, "predict")})
        except Exception as exc:  # AutoML's classic script: errors become a 200 with a double-encoded body
            return json.dumps({"error": str(exc)})
