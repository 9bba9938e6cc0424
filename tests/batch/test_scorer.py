"""score_frame / score_stream (and the sync entry points' loop guard) against the real local endpoint over HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bankmarketing_client.batch import score_file, score_frame, score_stream
from bankmarketing_client.batch.scorer import ScoredRow
from bankmarketing_client.data import FEATURE_COLUMNS, INTEGER_COLUMNS, read_frame
from bankmarketing_client.local.endpoint import LocalEndpoint
from batch.batch_support import WriteSubset


def test_score_frame_adds_prediction_probability_and_error(scoring_env: LocalEndpoint, train_path: Path) -> None:
    frame = read_frame(train_path).head(80).copy()
    frame.loc[3, "marital"] = "Married"
    scored = score_frame(frame, batch_size=25)
    assert list(scored.index) == list(frame.index)
    assert scored["prediction"].isna().tolist() == [i == 3 for i in range(80)]
    assert "marital" in str(scored.loc[3, "error"])
    assert scored["probability"].drop(index=3).between(0, 1).all()
    assert (frame.columns == scored.columns[: len(frame.columns)]).all()


def test_score_stream_yields_one_result_per_record_in_order(scoring_env: LocalEndpoint, train_path: Path) -> None:
    frame = read_frame(train_path).head(45)
    records: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in frame[list(FEATURE_COLUMNS)].to_dict(orient="records")
    ]
    for record in records:
        for column in INTEGER_COLUMNS:
            record[column] = int(record[column])
    records[10] = {**records[10], "age": "forty"}

    async def collect() -> list[ScoredRow]:
        return [row async for row in score_stream(records, batch_size=8)]

    results = asyncio.run(collect())
    assert [r.row for r in results] == list(range(1, 46))
    assert results[10].label is None
    assert results[10].errors[0].field == "age"
    assert all(r.label in ("yes", "no") and r.probability is not None for i, r in enumerate(results) if i != 10)


def test_the_sync_entry_points_refuse_a_running_loop_and_name_the_async_twin(
    write_subset: WriteSubset, tmp_path: Path
) -> None:
    """Called from async code, the sync wrappers cannot block the loop: they say which coroutine to await."""
    from bankmarketing_client.errors import ConfigurationError

    source = write_subset(rows=3)

    async def inside_a_loop() -> list[str]:
        messages = []
        for call in (lambda: score_file(source, tmp_path / "out.csv"), lambda: score_frame(read_frame(source))):
            with pytest.raises(ConfigurationError) as caught:
                call()
            messages.append(str(caught.value))
        return messages

    file_message, frame_message = asyncio.run(inside_a_loop())
    assert "await score_file_async(" in file_message
    assert "await score_frame_async(" in frame_message
    assert not (tmp_path / "out.csv").exists()
