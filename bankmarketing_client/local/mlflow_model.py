"""The ``mlflow`` family's model: the local endpoint's trees, saved as an MLflow model (Azure ML v2's registered
form of an AutoML model), with a signature, in the folder Azure's curated MLflow environment expects.

The trees are the ``inputs`` family's (:mod:`.model`, same data, same variant, same cache); :class:`FrameClassifier`
puts the scikit-learn face on them that MLflow's sklearn flavour calls: ``predict`` and ``predict_proba`` on a pandas
frame, labels ``"no"``/``"yes"``. Saved with ``serialization_format="cloudpickle"`` (mlflow 3.17 defaults to skops)
and ``pyfunc_predict_fn`` ``predict`` (labels) or ``predict_proba`` (the probabilities variant, a deployment's
``answers=probabilities`` setting). Needs the ``local`` extra (mlflow-skinny); the client never imports it.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from bankmarketing_client.local.model import (
    CLASSES,
    BankMarketingModel,
    ModelVariant,
    ensure_model_dir,
    load_model,
    load_schema,
)

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import NDArray

    from bankmarketing_client.local.limits import Deployment

#: The model folder under ``AZUREML_MODEL_DIR`` (AutoML's curated environment names it so); ``MLFLOW_MODEL_FOLDER``.
MLFLOW_FOLDER: Final = "mlflow-model"
PREDICT_FNS: Final = {"labels": "predict", "probabilities": "predict_proba"}


class FrameClassifier:
    """The fitted trees behind scikit-learn's classifier methods, on a frame with the features' names."""

    classes_: NDArray[np.str_]

    def __init__(self, model: BankMarketingModel) -> None:
        self.model = model
        self.classes_ = np.array(CLASSES)

    def predict_proba(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        yes = self.model.proba_yes(self.model.encode_frame(frame))
        return np.column_stack([1.0 - yes, yes])

    def predict(self, frame: pd.DataFrame) -> NDArray[np.str_]:
        yes = self.model.proba_yes(self.model.encode_frame(frame))
        return np.where(yes > 0.5, CLASSES[1], CLASSES[0])


def sample_frame(schema: dict[str, Any]) -> pd.DataFrame:
    """The model folder's two sample records as a typed frame (int64, float64, str): the signature's source."""
    import pandas as pd

    columns: dict[str, Any] = {}
    for name in schema["features"]:
        values = [record[name] for record in schema["sample"]]
        dtype = np.int64 if name in schema["integer"] else np.float64 if name in schema["float"] else str
        columns[name] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(columns)


def ensure_mlflow_model(
    train_path: str | Path | None = None, *, variant: ModelVariant = "default", answers: str = "labels"
) -> Path:
    """Save (once, cached beside the trees) and return the ``AZUREML_MODEL_DIR`` holding ``mlflow-model/``."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    predict_fn = PREDICT_FNS[answers]
    trees_dir = ensure_model_dir(train_path, variant=variant)
    root = trees_dir / f"mlflow-{answers}"
    if (root / MLFLOW_FOLDER / "MLmodel").is_file():
        return root
    classifier = FrameClassifier(load_model(trees_dir))
    frame = sample_frame(load_schema(trees_dir))
    with warnings.catch_warnings():  # integer columns: ours never hold missing values (the record codec refuses them)
        warnings.simplefilter("ignore", UserWarning)
        signature = infer_signature(frame, getattr(classifier, predict_fn)(frame))
    staging = Path(tempfile.mkdtemp(prefix=".mlflow-", dir=trees_dir))
    try:  # saved aside, then renamed: a concurrent or interrupted start never sees half a model
        _quiet_save(
            mlflow.sklearn.save_model,
            classifier,
            staging / MLFLOW_FOLDER,
            serialization_format="cloudpickle",
            signature=signature,
            pyfunc_predict_fn=predict_fn,
        )
        try:
            staging.replace(root)
        except OSError:  # another start saved it first
            if not (root / MLFLOW_FOLDER / "MLmodel").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def _quiet_save(save: Any, *args: Any, **kwargs: Any) -> None:
    """Save without mlflow's warning on stderr that cloudpickle runs code on load: it is our own cache, and
    skops would refuse to load the custom class without a list of trusted types."""
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            save(*args, **kwargs)
    finally:
        logger.setLevel(level)


def prepare(train_path: str | Path | None, deployment: Deployment) -> tuple[Path, dict[str, str]]:
    """The local endpoint's hook for this family: one deployment's model folder and the container's environment."""
    variant: ModelVariant = "balanced" if deployment.model == "balanced" else "default"
    root = ensure_mlflow_model(train_path, variant=variant, answers=deployment.answers)
    return root, {"MLFLOW_MODEL_FOLDER": MLFLOW_FOLDER}
