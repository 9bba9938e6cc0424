"""The local endpoint's model: trained on the real training CSV, cached, evaluated on the holdout.

A ``HistGradientBoostingClassifier`` with native categorical support reaches Azure AutoML's reported quality on
this data in under a second. The serving path skips pandas and scikit-learn's per-call input validation: records
are encoded straight into the fitted trees' column layout and scored by the fitted predictors, which the tests
check against ``predict_proba`` on the same rows.

Two variants train on the same data (:data:`MODEL_VARIANTS`): ``default``, the model in service (``blue``), and
``balanced``, the candidate (``green``) with balanced class weights, the seed project's own "future work": it trades
precision of "yes" for recall. Each variant has its own cache folder.
"""

from __future__ import annotations

import json
import pickle
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np

from bankmarketing_client.data import (
    CATEGORICAL_COLUMNS,
    FEATURE_COLUMNS,
    FLOAT_COLUMNS,
    INTEGER_COLUMNS,
    TARGET,
    cache_dir,
    file_digest,
    read_frame,
    resolve_holdout_path,
    resolve_train_path,
)

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import NDArray

    from bankmarketing_client.local.limits import Deployment

#: Bump when training or the serialised layout changes, so old caches are not reused.
MODEL_VERSION: Final = 1
RANDOM_STATE: Final = 0
CLASSES: Final = ("no", "yes")
MODEL_FILE: Final = "model.pkl"
#: Azure mounts models as ``<model dir>/<name>/<version>/``; its server's App Insights code expects that layout.
MODEL_SUBDIR: Final = Path("bankmarketing") / "1"
SCHEMA_FILE: Final = "schema.json"
NUMERIC_COLUMNS: Final[tuple[str, ...]] = tuple(c for c in FEATURE_COLUMNS if c not in CATEGORICAL_COLUMNS)
ModelVariant = Literal["default", "balanced"]
#: ``default``: plain class weights (the model in service); ``balanced``: each class weighted by 1 / its frequency.
MODEL_VARIANTS: Final[tuple[ModelVariant, ...]] = ("default", "balanced")
#: The trees see categorical columns first, then numeric ones (the fitted estimator's own layout).
TREE_COLUMNS: Final[tuple[str, ...]] = CATEGORICAL_COLUMNS + NUMERIC_COLUMNS


class RecordError(ValueError):
    """A record the model cannot score: missing field, wrong type. The message names row and field."""


@dataclass
class BankMarketingModel:
    """A fitted classifier plus what is needed to score JSON records without pandas."""

    estimator: Any
    categories: dict[str, list[str]]
    training_digest: str
    _codes: dict[str, dict[str, float]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._codes = {c: {v: float(i) for i, v in enumerate(vals)} for c, vals in self.categories.items()}

    # -- encoding ---------------------------------------------------------------------------------------------
    def encode_records(self, records: Sequence[Mapping[str, Any]]) -> NDArray[np.float64]:
        """Records with wire names -> the trees' float matrix; unknown categories become missing (NaN)."""
        matrix = np.empty((len(records), len(TREE_COLUMNS)), dtype=np.float64)
        codes = self._codes
        for row_index, record in enumerate(records):
            if not isinstance(record, Mapping):
                raise RecordError(f"row {row_index + 1}: expected an object, got {type(record).__name__}")
            row = matrix[row_index]
            for col_index, name in enumerate(TREE_COLUMNS):
                try:
                    value = record[name]
                except KeyError:
                    raise RecordError(f"row {row_index + 1}, {name}: missing") from None
                if col_index < len(CATEGORICAL_COLUMNS):
                    if not isinstance(value, str):
                        raise RecordError(f"row {row_index + 1}, {name}: expected a string, got {value!r}")
                    row[col_index] = codes[name].get(value, np.nan)
                else:
                    if isinstance(value, bool) or not isinstance(value, int | float):
                        raise RecordError(f"row {row_index + 1}, {name}: expected a number, got {value!r}")
                    row[col_index] = value
        return matrix

    def encode_frame(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        """The same encoding for a pandas frame (training and evaluation)."""
        matrix = np.empty((len(frame), len(TREE_COLUMNS)), dtype=np.float64)
        for col_index, name in enumerate(TREE_COLUMNS):
            if name in self._codes:
                mapped = frame[name].map(self._codes[name])
                matrix[:, col_index] = mapped.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                matrix[:, col_index] = frame[name].to_numpy(dtype=np.float64)
        return matrix

    # -- scoring ----------------------------------------------------------------------------------------------
    def proba_yes(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        """P(y = yes) straight from the fitted trees, without scikit-learn's per-call validation."""
        est = self.estimator
        raw = np.zeros((matrix.shape[0], 1), dtype=est._baseline_prediction.dtype, order="F")
        raw += est._baseline_prediction
        est._predict_iterations(np.ascontiguousarray(matrix), est._predictors, raw, False, 1)
        result: NDArray[np.float64] = 1.0 / (1.0 + np.exp(-raw[:, 0]))
        return result

    def predict_records(self, records: Sequence[Mapping[str, Any]]) -> list[str]:
        proba = self.proba_yes(self.encode_records(records))
        return [CLASSES[1] if p > 0.5 else CLASSES[0] for p in proba.tolist()]

    def predict_proba_records(self, records: Sequence[Mapping[str, Any]]) -> list[list[float]]:
        proba = self.proba_yes(self.encode_records(records)).tolist()
        return [[1.0 - p, p] for p in proba]


def train(frame: pd.DataFrame, training_digest: str = "", variant: ModelVariant = "default") -> BankMarketingModel:
    """Fit the classifier on a training frame (deterministic: fixed seed for early stopping's split)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    if variant not in MODEL_VARIANTS:
        raise ValueError(f"model variant must be one of {', '.join(MODEL_VARIANTS)}, not {variant!r}")
    categories = {c: sorted(str(v) for v in frame[c].dropna().unique()) for c in CATEGORICAL_COLUMNS}
    estimator = HistGradientBoostingClassifier(
        categorical_features=list(range(len(CATEGORICAL_COLUMNS))),
        random_state=RANDOM_STATE,
        class_weight="balanced" if variant == "balanced" else None,
    )
    model = BankMarketingModel(estimator=estimator, categories=categories, training_digest=training_digest)
    matrix = model.encode_frame(frame)
    target = (frame[TARGET] == CLASSES[1]).to_numpy(dtype=np.int64)
    estimator.fit(matrix, target)
    # The fast path relies on the estimator keeping our column layout (categoricals first, codes unchanged).
    sample = matrix[:256]
    preprocessed = estimator._preprocessor.transform(sample) if estimator._preprocessor is not None else sample
    if not np.allclose(preprocessed, sample, equal_nan=True):
        raise RuntimeError("scikit-learn changed the tree layout; the fast scoring path cannot be used")
    return model


@dataclass(frozen=True)
class Evaluation:
    rows: int
    accuracy: float
    auc_weighted: float
    #: Of the true "yes" rows, the share predicted "yes" (what class balancing buys)...
    recall_yes: float = 0.0
    #: ...and of the predicted "yes" rows, the share truly "yes" (what it costs).
    precision_yes: float = 0.0


def evaluate(model: BankMarketingModel, frame: pd.DataFrame) -> Evaluation:
    """Accuracy, AUC_weighted (for two classes, the plain ROC AUC), recall and precision of "yes" on a labelled frame."""
    from sklearn.metrics import roc_auc_score

    proba = model.proba_yes(model.encode_frame(frame))
    truth = (frame[TARGET] == CLASSES[1]).to_numpy()
    predicted = proba > 0.5
    accuracy = float(np.mean(predicted == truth))
    auc = float(roc_auc_score(truth, proba, average="weighted"))
    hits = float(np.sum(predicted & truth))
    return Evaluation(
        rows=len(frame),
        accuracy=accuracy,
        auc_weighted=auc,
        recall_yes=hits / max(float(np.sum(truth)), 1.0),
        precision_yes=hits / max(float(np.sum(predicted)), 1.0),
    )


def sample_records(frame: pd.DataFrame, count: int = 2) -> list[dict[str, Any]]:
    """The first rows as JSON-ready records in schema order, with plain Python types (read by the record codec,
    as the client would read them)."""
    from bankmarketing_client.features import records_to_wire, validate_records

    rows = frame[list(FEATURE_COLUMNS)].head(count).to_dict("records")
    return records_to_wire(validate_records([{str(k): v for k, v in row.items()} for row in rows]))


def model_dir_for(train_path: Path, digest: str | None = None, variant: ModelVariant = "default") -> Path:
    """The ``AZUREML_MODEL_DIR`` for ``train_path``'s model: keyed by data, model version, sklearn and variant.

    The default variant keeps the key it always had, so existing caches stay valid.
    """
    import sklearn

    key = f"{(digest or file_digest(train_path))[:16]}-v{MODEL_VERSION}-sklearn{sklearn.__version__}"
    if variant != "default":
        key += f"-{variant}"
    return cache_dir() / "models" / key


def ensure_model_dir(
    train_path: str | Path | None = None, *, model_dir: Path | None = None, variant: ModelVariant = "default"
) -> Path:
    """Train on first use and cache ``model.pkl`` + ``schema.json``; return the ``AZUREML_MODEL_DIR``."""
    path = resolve_train_path(train_path)
    digest = file_digest(path)
    root = model_dir or model_dir_for(path, digest, variant)
    target = root / MODEL_SUBDIR
    if (target / MODEL_FILE).is_file() and (target / SCHEMA_FILE).is_file():
        return root
    frame = read_frame(path)
    model = train(frame, training_digest=digest, variant=variant)
    schema = {
        "features": list(FEATURE_COLUMNS),
        "integer": sorted(INTEGER_COLUMNS),
        "float": sorted(FLOAT_COLUMNS),
        "categories": model.categories,
        "sample": sample_records(frame),
        "training_digest": digest,
        "model_version": MODEL_VERSION,
        "variant": variant,
    }
    target.mkdir(parents=True, exist_ok=True)
    # Write then rename, so that a concurrent or interrupted start never sees half a model.
    for name, payload in (
        (MODEL_FILE, pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)),
        (SCHEMA_FILE, json.dumps(schema, indent=1).encode()),
    ):
        with tempfile.NamedTemporaryFile(dir=target, delete=False, prefix=f".{name}.") as tmp:
            tmp.write(payload)
        Path(tmp.name).replace(target / name)
    return root


def load_model(model_dir: Path) -> BankMarketingModel:
    """Load a cached model (only ever a file this package wrote into its own cache)."""
    with (model_dir / MODEL_SUBDIR / MODEL_FILE).open("rb") as fh:
        model = pickle.load(fh)  # noqa: S301 - our own cache, keyed by the data digest
    if not isinstance(model, BankMarketingModel):
        raise TypeError(f"{model_dir / MODEL_FILE} does not hold a BankMarketingModel")
    return model


def load_schema(model_dir: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((model_dir / MODEL_SUBDIR / SCHEMA_FILE).read_text())
    return schema


def report(train_path: str | Path | None = None) -> dict[str, Any]:
    """Retrain both variants from scratch (timed), evaluate them on the holdout, and return the figures.

    The default variant's figures stay at the top level (as before); each variant's are under ``models``.
    """
    import time

    path = resolve_train_path(train_path)
    frame = read_frame(path)
    holdout_path = resolve_holdout_path(path)
    holdout = read_frame(holdout_path)
    models: dict[str, dict[str, Any]] = {}
    for variant in MODEL_VARIANTS:
        started = time.perf_counter()
        model = train(frame, variant=variant)
        train_seconds = time.perf_counter() - started
        evaluation = evaluate(model, holdout)
        models[variant] = {
            "train_seconds": round(train_seconds, 3),
            "accuracy": round(evaluation.accuracy, 4),
            "AUC_weighted": round(evaluation.auc_weighted, 4),
            "recall_yes": round(evaluation.recall_yes, 4),
            "precision_yes": round(evaluation.precision_yes, 4),
            "iterations": int(model.estimator.n_iter_),
        }
    default = models["default"]
    return {
        "train_file": str(path),
        "train_rows": len(frame),
        "train_seconds": default["train_seconds"],
        "holdout_file": str(holdout_path),
        "holdout_rows": len(holdout),
        "accuracy": default["accuracy"],
        "AUC_weighted": default["AUC_weighted"],
        "iterations": default["iterations"],
        "models": models,
    }


def prepare(train_path: str | Path | None, deployment: Deployment) -> tuple[Path, dict[str, str]]:
    """The local endpoint's hook for the ``inputs`` and ``data`` families: one deployment's model folder (trained
    and cached on first use) and nothing more for the container's environment."""
    if deployment.answers != "labels":
        raise ValueError(
            f"deployment {deployment.name}: answers={deployment.answers} is an MLflow model's setting; an inputs "
            "endpoint answers what each request's method asks"
        )
    variant: ModelVariant = "balanced" if deployment.model == "balanced" else "default"
    return ensure_model_dir(train_path, variant=variant), {}
