"""The entry script the real ``azmlinfsrv`` runs: ``init()`` loads the model, ``run()`` scores.

The contract family is chosen at start with ``BANKMARKETING_CONTRACT`` (``inputs``, the default, or ``data``: the
families whose local entry in the contract registry is this script), and
the inference-schema decorators make the server generate the matching swagger, as Azure's AutoML scripts did:

* ``data`` (2020-2021): ``{"data": [records]}`` in; a double-encoded ``"{\\"result\\": [...]}"`` out; a failed
  prediction (a value of the wrong type in a record) is caught and returned as HTTP 200 with a double-encoded
  ``{"error": ...}``, as the original did.
* ``inputs`` (2022-): ``{"Inputs": {"data": [records]}, "GlobalParameters": {"method": ...}}`` in;
  ``{"Results": [...]}`` out.

A request that breaks the contract gets a 400 ``{"message": "<JSON path>: <what is wrong>"}`` from ``run()``
(e.g. ``GlobalParameters.method: {} is not one of predict, predict_proba``), never the server's bare 500 "An
unexpected error occurred in scoring script": the caller (and Azure's front, which puts the message in
``ms-azureml-model-error-reason``) learns which field to fix. The one exception is the ``data`` family's documented
200-with-error for values, kept for compatibility. The decorators only describe the swagger
(``convert_to_provided_type=False``): ``run()`` checks its arguments itself, so that every message names its field,
and records are handed to the model as they arrived (no pandas round trip).
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from azureml_inference_server_http.api.aml_response import AMLResponse
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema, output_schema

from bankmarketing_client.contracts import families
from bankmarketing_client.local.model import CLASSES, TREE_COLUMNS, BankMarketingModel, load_model, load_schema

CONTRACT_ENV = "BANKMARKETING_CONTRACT"
DELAY_ENV = "BANKMARKETING_MODEL_DELAY_MS"
_DELAY_SECONDS = float(os.environ.get(DELAY_ENV) or 0) / 1000  # read once, not on every request
#: The families this script serves: those whose local entry in the contract registry is this module.
CONTRACTS = tuple(f.name for f in families() if f.local_entry == "bankmarketing_client.local.score")
METHODS = ("predict", "predict_proba")

CONTRACT = os.environ.get(CONTRACT_ENV, "inputs")
if CONTRACT not in CONTRACTS:
    raise RuntimeError(f"{CONTRACT_ENV} must be one of {', '.join(CONTRACTS)}, not {CONTRACT!r}")
MODEL_DIR = Path(os.environ.get("AZUREML_MODEL_DIR", "."))
_SCHEMA = load_schema(MODEL_DIR)
_FEATURES: list[str] = _SCHEMA["features"]
_FEATURE_SET = frozenset(_FEATURES)
_INTEGER = frozenset(_SCHEMA["integer"])
_FLOAT = frozenset(_SCHEMA["float"])
# Columns of the model's matrix (its own layout) that must hold whole int64 values / finite numbers.
_INTEGER_COLUMNS = [i for i, name in enumerate(TREE_COLUMNS) if name in _INTEGER]
_NUMERIC_COLUMNS = [i for i, name in enumerate(TREE_COLUMNS) if name in _INTEGER | _FLOAT]
_INT64_MIN, _INT64_END = -(2**63), 2**63  # the swagger's "format": "int64"


class SchemaViolation(ValueError):
    """A request that breaks the contract; the message starts with the JSON path of the offending field."""


def _sample_frame() -> pd.DataFrame:
    """A typed frame of two real rows: inference-schema derives the swagger's properties and example from it."""
    columns: dict[str, Any] = {}
    for name in _FEATURES:
        values = [record[name] for record in _SCHEMA["sample"]]
        dtype = np.int64 if name in _INTEGER else np.float64 if name in _FLOAT else object
        columns[name] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(columns)


def _kind(value: Any) -> str:
    """The JSON type of a parsed value, as a caller who sent JSON would name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _show(value: Any) -> str:
    """A value as JSON, cut short: messages end up in a response header."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _records(value: Any, path: str) -> list[dict[str, Any]]:
    """The records, if ``value`` is a non-empty list of objects with exactly the model's fields."""
    if not isinstance(value, list):
        raise SchemaViolation(f"{path}: expected an array of records, got {_kind(value)}")
    if not value:
        raise SchemaViolation(f"{path}: no records to score")
    for index, record in enumerate(value):
        if not isinstance(record, dict):
            raise SchemaViolation(f"{path}[{index}]: expected an object, got {_kind(record)}")
        if record.keys() != _FEATURE_SET:
            missing = [name for name in _FEATURES if name not in record]
            if missing:
                more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
                raise SchemaViolation(f"{path}[{index}].{missing[0]}: required{more}")
            extra = next(key for key in record if key not in _FEATURE_SET)
            raise SchemaViolation(f"{path}[{index}]: unexpected field {_show(extra)}")
    return value


def _value_problem(name: str, value: Any) -> str | None:
    """What is wrong with one feature value, or None."""
    if name in _INTEGER:
        whole = type(value) is int or (type(value) is float and value.is_integer())
        if whole and _INT64_MIN <= value < _INT64_END:
            return None
        return f"expected an integer (int64), got {_show(value)}"
    if name in _FLOAT:
        if type(value) in (int, float):
            try:
                if math.isfinite(value):
                    return None
            except OverflowError:  # an integer too large for a double
                pass
        return f"expected a finite number, got {_show(value)}"
    return None if isinstance(value, str) else f"expected a string, got {_show(value)}"


def _first_bad_value(records: list[dict[str, Any]], path: str) -> SchemaViolation | None:
    """The slow, exact check, run only when the fast one (the model's encoding and a vectorised scan) objects."""
    for index, record in enumerate(records):
        for name in _FEATURES:
            problem = _value_problem(name, record[name])
            if problem:
                return SchemaViolation(f"{path}[{index}].{name}: {problem}")
    return None


model: BankMarketingModel | None = None


def init() -> None:
    """Called once per worker by the inference server."""
    global model
    model = load_model(MODEL_DIR)


def _score(records: list[dict[str, Any]], method: str, path: str) -> list[Any]:
    """Score checked records; a value of the wrong type or out of range raises :class:`SchemaViolation`."""
    if model is None:
        raise RuntimeError("init() has not run")
    if _DELAY_SECONDS > 0:  # a deliberately slow model, for timeout tests
        time.sleep(_DELAY_SECONDS)
    try:
        matrix = model.encode_records(records)  # type-checks every value on the way
    except (ValueError, TypeError, OverflowError) as exc:
        raise (_first_bad_value(records, path) or exc) from None
    integers = matrix[:, _INTEGER_COLUMNS]
    if not (
        np.isfinite(matrix[:, _NUMERIC_COLUMNS]).all()
        and (integers == np.trunc(integers)).all()
        and (np.abs(integers) < _INT64_END).all()
    ):  # a cheap filter: the exact check decides (2**63 - 1 is a valid int64 but rounds to 2**63 as a double)
        violation = _first_bad_value(records, path)
        if violation is not None:
            raise violation
    proba = model.proba_yes(matrix).tolist()
    if method == "predict":
        return [CLASSES[1] if p > 0.5 else CLASSES[0] for p in proba]
    return [[1.0 - p, p] for p in proba]


def _method(global_parameters: Any) -> str:
    """``GlobalParameters.method``; absent (or null: the server cannot tell them apart) means ``predict``."""
    if global_parameters is None:
        return "predict"
    if not isinstance(global_parameters, dict):
        raise SchemaViolation(f"GlobalParameters: expected an object, got {_kind(global_parameters)}")
    if "method" not in global_parameters:
        raise SchemaViolation(f"GlobalParameters.method: required, one of {', '.join(METHODS)}")
    method = global_parameters["method"]
    if not isinstance(method, str) or method not in METHODS:
        raise SchemaViolation(f"GlobalParameters.method: {_show(method)} is not one of {', '.join(METHODS)}")
    return method


def _inputs_records(inputs: Any) -> list[dict[str, Any]]:
    if inputs is None:
        raise SchemaViolation('Inputs: required, an object {"data": [records]}')
    if not isinstance(inputs, dict):
        raise SchemaViolation(f"Inputs: expected an object, got {_kind(inputs)}")
    if "data" not in inputs:
        raise SchemaViolation("Inputs.data: required, an array of records")
    return _records(inputs["data"], "Inputs.data")


def _rejected(violation: SchemaViolation) -> AMLResponse:
    """400 with ``{"message": ...}``, the inference server's own error shape."""
    return AMLResponse({"message": str(violation)}, 400, json_str=True)


# The swagger's record schema: a pandas.DataFrame:records parameter, described but never converted.
_RECORDS = PandasParameterType(_sample_frame())

if CONTRACT == "inputs":

    @input_schema("Inputs", StandardPythonParameterType({"data": _RECORDS}), convert_to_provided_type=False)
    @input_schema(
        "GlobalParameters", StandardPythonParameterType({"method": "predict"}), convert_to_provided_type=False
    )
    @output_schema(StandardPythonParameterType({"Results": NumpyParameterType(np.array(["no", "yes"]))}))
    def run(Inputs: Any = None, GlobalParameters: Any = None) -> dict[str, Any] | AMLResponse:
        # Defaults: a missing Inputs reaches run() as None, so the answer names it like every other field.
        try:
            method = _method(GlobalParameters)
            return {"Results": _score(_inputs_records(Inputs), method, "Inputs.data")}
        except SchemaViolation as violation:
            return _rejected(violation)

else:

    @input_schema("data", _RECORDS, convert_to_provided_type=False)
    @output_schema(StandardPythonParameterType(["no", "yes"]))
    def run(data: Any = None) -> str | AMLResponse:
        try:
            if data is None:
                raise SchemaViolation("data: required, an array of records")
            records = _records(data, "data")
        except SchemaViolation as violation:  # the request's shape: refused, as the server refuses bad JSON
            return _rejected(violation)
        try:
            return json.dumps({"result": _score(records, "predict", "data")})
        except Exception as exc:  # AutoML's classic script: prediction errors become a 200 with a double-encoded body
            return json.dumps({"error": str(exc)})
