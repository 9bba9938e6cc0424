"""Checkpoints: the counters and spool lengths survive a save and load; a file from elsewhere is one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bankmarketing_client.batch.checkpoint import Checkpoint, Written
from bankmarketing_client.batch.summary import RowCounts
from bankmarketing_client.errors import ConfigurationError


def test_the_counts_and_lengths_survive_a_save_and_load(tmp_path: Path) -> None:
    path = tmp_path / "ck.json"
    written = Written(RowCounts(40, 37, 2, 1), output_bytes=1234, errors_bytes=56)
    Checkpoint({"path": "in.csv"}, {"columns": ["row"]}, written, retries=3, elapsed=1.5).save(path)
    loaded = Checkpoint.load(path)
    assert loaded is not None
    assert loaded.written == written
    assert loaded.rows_done == 40
    assert (loaded.retries, loaded.elapsed) == (3, 1.5)


def test_a_missing_checkpoint_is_none(tmp_path: Path) -> None:
    assert Checkpoint.load(tmp_path / "none.json") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"version": 1, "rows_done": 5}', "from another version"),  # the flat layout before the nested counters
        ('{"version": 2, "input": {}, "layout": {}, "written": {"rows": 5}}', "is malformed"),
        ('{"version": 2, "input": {}, "layout": {}, "written": 5}', "is malformed"),
        ("{not json", "is unreadable"),
    ],
)
def test_a_checkpoint_from_elsewhere_is_refused_in_one_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "ck.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError, match=message) as caught:
        Checkpoint.load(path)
    assert "delete it to start over" in str(caught.value)
