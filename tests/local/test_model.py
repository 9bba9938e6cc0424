"""The local model: quality on the holdout, determinism, the fast path's fidelity and the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bankmarketing_client import data
from bankmarketing_client.local import model as m


@pytest.fixture(scope="module")
def trained(train_path: Path) -> m.BankMarketingModel:
    return m.train(data.read_frame(train_path))


@pytest.fixture(scope="module")
def holdout(train_path: Path) -> object:
    return data.read_frame(data.resolve_holdout_path(train_path))


def test_meets_automl_quality_on_the_holdout(trained: m.BankMarketingModel, holdout: object) -> None:
    figures = m.evaluate(trained, holdout)  # type: ignore[arg-type]
    assert figures.rows == 8238
    assert figures.accuracy >= 0.915
    assert figures.auc_weighted >= 0.945


def test_fast_path_matches_scikit_learn(trained: m.BankMarketingModel, holdout: object) -> None:
    matrix = trained.encode_frame(holdout)  # type: ignore[arg-type]
    ours = trained.proba_yes(matrix)
    theirs = trained.estimator.predict_proba(matrix)[:, 1]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    assert list(trained.estimator.classes_) == [0, 1]


def test_records_and_frame_encode_alike(trained: m.BankMarketingModel, holdout: object) -> None:
    frame = holdout.head(50)  # type: ignore[attr-defined]
    records = m.sample_records(frame, 50)
    np.testing.assert_array_equal(trained.encode_records(records), trained.encode_frame(frame))
    proba = trained.predict_proba_records(records)
    labels = trained.predict_records(records)
    assert labels == ["yes" if p[1] > 0.5 else "no" for p in proba]
    assert all(abs(sum(p) - 1) < 1e-12 for p in proba)


def test_training_is_deterministic(trained: m.BankMarketingModel, train_path: Path, holdout: object) -> None:
    again = m.train(data.read_frame(train_path))
    matrix = trained.encode_frame(holdout)  # type: ignore[arg-type]
    np.testing.assert_array_equal(trained.proba_yes(matrix), again.proba_yes(matrix))


def test_unknown_category_is_scored_as_missing(trained: m.BankMarketingModel, holdout: object) -> None:
    record = m.sample_records(holdout, 1)[0]  # type: ignore[arg-type]
    record["job"] = "astronaut"
    assert np.isnan(trained.encode_records([record])[0, m.TREE_COLUMNS.index("job")])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"age": "forty"}, "row 1, age: expected a number"),
        ({"age": True}, "row 1, age: expected a number"),
        ({"job": 3}, "row 1, job: expected a string"),
    ],
)
def test_bad_records_name_row_and_field(
    trained: m.BankMarketingModel, holdout: object, change: dict[str, object], message: str
) -> None:
    record = {**m.sample_records(holdout, 1)[0], **change}  # type: ignore[arg-type]
    with pytest.raises(m.RecordError, match=message):
        trained.encode_records([record])


def test_missing_field_is_named(trained: m.BankMarketingModel, holdout: object) -> None:
    records = m.sample_records(holdout, 2)  # type: ignore[arg-type]
    del records[1]["euribor3m"]
    with pytest.raises(m.RecordError, match="row 2, euribor3m: missing"):
        trained.encode_records(records)


def test_cache_is_reused_and_keyed_to_the_data(
    train_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(data.CACHE_ENV_VAR, str(tmp_path))
    first = m.ensure_model_dir(train_path)
    stamp = (first / m.MODEL_SUBDIR / m.MODEL_FILE).stat().st_mtime_ns
    assert m.ensure_model_dir(train_path) == first
    assert (first / m.MODEL_SUBDIR / m.MODEL_FILE).stat().st_mtime_ns == stamp
    schema = m.load_schema(first)
    assert schema["features"] == list(data.FEATURE_COLUMNS)
    assert schema["training_digest"] == data.file_digest(train_path)
    # Other data gives another cache entry, never the stale model.
    smaller = tmp_path / "small.csv"
    smaller.write_text("\n".join(train_path.read_text().splitlines()[:2001]) + "\n")
    assert m.ensure_model_dir(smaller) != first
    assert isinstance(m.load_model(first), m.BankMarketingModel)


@pytest.fixture(scope="module")
def balanced(train_path: Path) -> m.BankMarketingModel:
    return m.train(data.read_frame(train_path), variant="balanced")


def test_balanced_variant_trades_precision_for_recall(
    trained: m.BankMarketingModel, balanced: m.BankMarketingModel, holdout: object
) -> None:
    plain = m.evaluate(trained, holdout)  # type: ignore[arg-type]
    weighted = m.evaluate(balanced, holdout)  # type: ignore[arg-type]
    assert weighted.recall_yes > plain.recall_yes + 0.2  # what balancing the classes is for
    assert weighted.precision_yes < plain.precision_yes
    assert weighted.auc_weighted >= 0.94  # the ranking stays as good; only the threshold's meaning moves


def test_variants_cache_apart(train_path: Path) -> None:
    assert m.model_dir_for(train_path, variant="balanced") != m.model_dir_for(train_path)
    with pytest.raises(ValueError, match="model variant"):
        m.train(data.read_frame(train_path).head(50), variant="weighted")  # type: ignore[arg-type]


def test_cli_reports_both_models_on_the_holdout(train_path: Path) -> None:
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "bankmarketing_client.cli", "local", "model", "--data", str(train_path), "--json"],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    models = json.loads(done.stdout)["models"]
    assert set(models) == {"default", "balanced"}
    for figures in models.values():
        assert {"accuracy", "AUC_weighted", "recall_yes", "precision_yes"} <= set(figures)
    assert models["balanced"]["recall_yes"] > models["default"]["recall_yes"]
