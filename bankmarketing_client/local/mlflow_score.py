"""The entry script of the ``mlflow`` family: an MLflow model served as Azure serves one deployed without a scoring
script (Azure/azureml-assets ``mlflow_score_script.py``, the MLflow inference environments; FIELD-NOTES section 10).

Written here to answer as that script does, from reading it, not copied: the model folder is
``$AZUREML_MODEL_DIR/$MLFLOW_MODEL_FOLDER``; the swagger is derived from the model's signature (``input_data`` a
``pandas.DataFrame:split`` with the column names and no types, ``params`` an open object, the answer a
``numpy.ndarray``); ``run(input_data, params=None)`` gets the frame inference-schema built from the split body,
calls the pyfunc model's ``predict`` and answers MLflow's JSON-able form of the result: a bare list of labels, or
of ``[p_no, p_yes]`` pairs for a model saved with ``predict_fn: predict_proba``. It checks nothing itself: a body
without ``input_data`` is the inference server's 400, a failure anywhere inside (a missing column, a value MLflow's
schema enforcement refuses) the server's 500 with ``x-ms-run-function-failed: True``, as in Azure.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
from inference_schema.parameter_types.abstract_parameter_type import AbstractParameterType
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
from inference_schema.schema_decorators import input_schema, output_schema
from mlflow.models import Model
from mlflow.pyfunc.scoring_server import _get_jsonable_obj  # type: ignore[attr-defined]

MODEL_PATH = Path(os.environ.get("AZUREML_MODEL_DIR", ".")) / os.environ.get("MLFLOW_MODEL_FOLDER", "mlflow-model")


class OpenObject(AbstractParameterType):  # type: ignore[misc]
    """A parameter with no sample: passed through untouched, described as an empty object (Azure's ``params``)."""

    def __init__(self) -> None:
        super().__init__(None)

    def deserialize_input(self, input_data: Any) -> Any:
        return input_data

    def input_to_swagger(self) -> dict[str, Any]:
        return {"type": "object", "example": {}}


def _input_sample(model: Model) -> pd.DataFrame:
    """An empty frame with the signature's columns and pandas types: the swagger's columns and nothing else."""
    inputs = model.signature.inputs
    types = dict(zip(inputs.input_names(), inputs.pandas_types(), strict=True))
    return pd.DataFrame(columns=list(types)).astype(types)


def _output_sample(model: Model) -> np.ndarray[Any, Any]:
    """A one-row array of the signature's output tensor (labels, or pairs of probabilities)."""
    spec = model.signature.outputs.inputs[0]
    shape = [1 if size == -1 else size for size in spec.shape]
    return np.zeros(tuple(shape), dtype=spec.type)


_SIGNED = Model.load(str(MODEL_PATH))
_INPUT = PandasParameterType(_input_sample(_SIGNED), enforce_shape=False, orient="split")
_OUTPUT = NumpyParameterType(_output_sample(_SIGNED), enforce_shape=False)
model: Any = None


def init() -> None:
    """Called once per worker by the inference server: load the pyfunc model (its ``predict`` is what runs)."""
    global model
    model = mlflow.pyfunc.load_model(str(MODEL_PATH))


@input_schema("input_data", _INPUT)
@input_schema("params", OpenObject(), optional=True)
@output_schema(_OUTPUT)
def run(input_data: Any, params: Any = None) -> Any:
    if model is None:
        raise RuntimeError("init() has not run")
    return _get_jsonable_obj(model.predict(input_data, params=params), pandas_orient="records")  # type: ignore[no-untyped-call]
