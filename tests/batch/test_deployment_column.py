"""The serving deployment as an output column, and ``deployment=`` on every batch entry point, against a real local
endpoint whose two deployments (blue: the default model, green: the balanced one) split traffic 50/50, seeded.

Each row's prediction is checked against the model of the deployment its column names, called in-process: a
column that named the wrong side would show as a wrong prediction.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from bankmarketing_client.batch import Progress, score_file, score_frame, score_stream
from bankmarketing_client.batch.checkpoint import checkpoint_path
from bankmarketing_client.batch.scorer import ScoredRow
from bankmarketing_client.batch.writers import spool_path
from bankmarketing_client.data import FEATURE_COLUMNS, read_frame, resolve_holdout_path
from bankmarketing_client.errors import ConfigurationError, RunStopped, UnexpectedResponseError
from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.local.model import ModelVariant, ensure_model_dir, load_model, sample_records
from batch.batch_support import files_under

ROWS = 120
#: Rows (1-based) whose age is made invalid: never sent, so no deployment answered for them.
BAD_ROWS = (5, 50)
SPLIT = {"blue": 50, "green": 50}
MODELS: dict[str, ModelVariant] = {"blue": "default", "green": "balanced"}


@pytest.fixture(scope="module")
def blue_green() -> Iterator[LocalEndpoint]:
    """Its own endpoint: one test changes its traffic mid-run."""
    with LocalEndpoint(deployments=["blue", "green"], traffic=SPLIT, routing_seed=3, worker_count=1) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def holdout() -> pd.DataFrame:
    frame = read_frame(resolve_holdout_path(None))[list(FEATURE_COLUMNS)].head(ROWS).reset_index(drop=True)
    frame["age"] = frame["age"].astype(object)
    for row in BAD_ROWS:
        frame.loc[row - 1, "age"] = "old"
    return frame


@pytest.fixture(scope="module")
def expected(holdout: pd.DataFrame) -> dict[str, dict[int, float]]:
    """P(yes) by deployment and 1-based row, from each deployment's model called in-process (valid rows only)."""
    rows = [n for n in range(1, ROWS + 1) if n not in BAD_ROWS]
    records = sample_records(holdout.iloc[[n - 1 for n in rows]], len(rows))
    answers: dict[str, dict[int, float]] = {}
    for name, variant in MODELS.items():
        proba = load_model(ensure_model_dir(variant=variant)).predict_proba_records(records)
        answers[name] = {row: p[1] for row, p in zip(rows, proba, strict=True)}
    return answers


@pytest.fixture
def source(holdout: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "input.csv"
    holdout.to_csv(path, index=False)
    return path


def _check_rows(rows: list[dict[str, Any]], expected: dict[str, dict[int, float]], column: str) -> set[str]:
    """Every valid row answered by the model its column names, every invalid row with no deployment."""
    seen = set()
    for number, row in enumerate(rows, start=1):
        served = row[column]
        if number in BAD_ROWS:
            assert pd.isna(served) or served == "", f"row {number} was never sent but names {served!r}"
            continue
        p = expected[served][number]
        assert float(row["probability"]) == pytest.approx(p, rel=1e-9, abs=1e-12), f"row {number} ({served})"
        assert row["prediction"] == ("yes" if p > 0.5 else "no")
        seen.add(served)
    return seen


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _settings(endpoint: LocalEndpoint) -> dict[str, Any]:
    return {"scoring_uri": endpoint.scoring_uri, "api_key": endpoint.primary_key, "batch_size": 8}


def test_the_column_names_the_deployment_that_served_each_row(
    blue_green: LocalEndpoint, source: Path, expected: dict[str, dict[int, float]], tmp_path: Path
) -> None:
    output = tmp_path / "scored.parquet"
    summary = score_file(source, output, deployment_column="served_by", **_settings(blue_green))
    table = pq.read_table(output)
    assert table.column_names == ["row", "prediction", "probability", "served_by"]
    assert summary.counts.rejected == len(BAD_ROWS)
    assert _check_rows(table.to_pylist(), expected, "served_by") == {"blue", "green"}


def test_deployment_sends_every_row_to_one_side(
    blue_green: LocalEndpoint, source: Path, expected: dict[str, dict[int, float]], tmp_path: Path
) -> None:
    output = tmp_path / "green.csv"
    score_file(source, output, deployment="green", deployment_column="deployment", **_settings(blue_green))
    with output.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert _check_rows(rows, expected, "deployment") == {"green"}


def test_without_the_keyword_there_is_no_column(blue_green: LocalEndpoint, source: Path, tmp_path: Path) -> None:
    output = tmp_path / "plain.csv"
    score_file(source, output, **_settings(blue_green))
    assert output.read_text().splitlines()[0] == "row,prediction,probability"


def test_score_frame_takes_both_keywords(
    blue_green: LocalEndpoint, holdout: pd.DataFrame, expected: dict[str, dict[int, float]]
) -> None:
    scored = score_frame(holdout, deployment_column="deployment", **_settings(blue_green))
    assert list(scored.columns) == [*holdout.columns, "prediction", "probability", "error", "deployment"]
    assert _check_rows(_records(scored), expected, "deployment") == {"blue", "green"}
    only_blue = score_frame(holdout, deployment="blue", deployment_column="deployment", **_settings(blue_green))
    assert set(only_blue["deployment"].dropna()) == {"blue"}


def test_score_stream_says_which_deployment_answered(
    blue_green: LocalEndpoint, holdout: pd.DataFrame, expected: dict[str, dict[int, float]]
) -> None:
    records = _records(holdout)

    async def collect() -> list[ScoredRow]:
        return [row async for row in score_stream(records, deployment="green", **_settings(blue_green))]

    rows = asyncio.run(collect())
    answers = [{"deployment": r.deployment, "probability": r.probability, "prediction": r.label} for r in rows]
    assert _check_rows(answers, expected, "deployment") == {"green"}


@pytest.mark.parametrize(
    ("name", "in_frame", "in_file"),
    [("prediction", True, True), ("", True, True), ("row", False, True), ("age", True, False)],
)
def test_a_column_name_already_taken_is_refused(
    blue_green: LocalEndpoint,
    holdout: pd.DataFrame,
    source: Path,
    tmp_path: Path,
    name: str,
    in_frame: bool,
    in_file: bool,
) -> None:
    """Taken in the frame's result (its columns, prediction, probability, error) or the file's output (row,
    prediction, probability; input columns are not carried), before any row is sent."""
    output = tmp_path / "out.csv"
    settings = {**_settings(blue_green), "deployment_column": name}
    if in_frame:
        with pytest.raises(ConfigurationError, match="deployment column"):
            score_frame(holdout, **settings)
    else:
        assert name in score_frame(holdout, **settings).columns
    if in_file:
        with pytest.raises(ConfigurationError, match="deployment column"):
            score_file(source, output, **settings)
        assert files_under(tmp_path) == {source}
    else:
        score_file(source, output, **settings)
        assert output.read_text().splitlines()[0] == f"row,prediction,probability,{name}"


class _StopTrafficAfterFirstChunk(Progress):
    """Takes all weight off both deployments once the first chunk is written: the next requests get Azure's 404
    for "no deployment to route to", which stops the run with its progress saved."""

    def __init__(self, endpoint: LocalEndpoint) -> None:
        super().__init__(enabled=False)
        self.endpoint = endpoint

    def advance(self, rows: int) -> None:
        if self.endpoint.routing.traffic != {"blue": 0, "green": 0}:
            self.endpoint.set_traffic({"blue": 0, "green": 0})


def test_resume_keeps_the_column_and_refuses_a_run_without_it(
    blue_green: LocalEndpoint, source: Path, expected: dict[str, dict[int, float]], tmp_path: Path
) -> None:
    output = tmp_path / "resumed.csv"
    settings = {**_settings(blue_green), "concurrency": 1, "deployment_column": "deployment"}
    try:
        with pytest.raises(RunStopped, match="HTTP 404"):
            score_file(source, output, progress=_StopTrafficAfterFirstChunk(blue_green), **settings)
    finally:
        blue_green.set_traffic(SPLIT)
    assert checkpoint_path(output).is_file()
    assert spool_path(output).is_file()
    with pytest.raises(ConfigurationError, match=r"options differ .*columns"):
        score_file(source, output, resume=True, **{**settings, "deployment_column": None})
    summary = score_file(source, output, resume=True, **settings)
    assert 0 < summary.resumed_rows < ROWS
    with output.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["row"]) for r in rows] == list(range(1, ROWS + 1))
    assert _check_rows(rows, expected, "deployment") == {"blue", "green"}


def test_an_unknown_deployment_raises_the_404_and_leaves_no_file(
    blue_green: LocalEndpoint, source: Path, tmp_path: Path
) -> None:
    """Nothing was scored, and a resume would meet the same 404: no spool or checkpoint is kept."""
    with pytest.raises(UnexpectedResponseError, match="no deployment named 'purple'") as caught:
        score_file(source, tmp_path / "out.csv", deployment="purple", **_settings(blue_green))
    assert caught.value.status == 404
    assert caught.value.request_id
    assert files_under(tmp_path) == {source}
