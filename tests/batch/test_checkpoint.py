"""Checkpoints: the counters, spool lengths and digests survive a save and load; a file from elsewhere, of another
version or with any field edited out of shape is one clear line (never a traceback); a failed save leaves no
staging file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bankmarketing_client.batch.checkpoint import EMPTY_SHA256, Checkpoint, Written
from bankmarketing_client.batch.prefix import Prefix
from bankmarketing_client.batch.summary import RowCounts
from bankmarketing_client.errors import ConfigurationError


def test_the_counts_and_lengths_survive_a_save_and_load(tmp_path: Path) -> None:
    path = tmp_path / "ck.json"
    written = Written(RowCounts(40, 37, 2, 1), 1234, 56, "a" * 64, "b" * 64)
    consumed = Prefix(4096, "c" * 64)
    Checkpoint(_INPUT, {"columns": ["row"]}, written, consumed, retries=3, elapsed=1.5).save(path)
    loaded = Checkpoint.load(path)
    assert loaded is not None
    assert loaded.written == written
    assert loaded.consumed == consumed
    assert loaded.rows_done == 40
    assert (loaded.retries, loaded.elapsed) == (3, 1.5)


_INPUT: dict[str, Any] = {"path": "/in.csv", "size": 10, "mtime_ns": 1, "head_tail": EMPTY_SHA256}


def test_a_missing_checkpoint_is_none(tmp_path: Path) -> None:
    assert Checkpoint.load(tmp_path / "none.json") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"version": 1, "rows_done": 5}', "from another version"),  # the flat layout before the nested counters
        # the nested layout before the digests: nothing to check the spools against
        ('{"version": 2, "input": {}, "layout": {}, "written": {"counts": {}}}', "from another version"),
        ('{"version": 3, "input": {}, "layout": {}, "written": {"rows": 5}}', "is malformed"),
        ('{"version": 3, "input": {}, "layout": {}, "written": 5}', "is malformed"),
        ("[3]", "from another version"),
        ("{not json", "is unreadable"),
    ],
)
def test_a_checkpoint_from_elsewhere_is_refused_in_one_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "ck.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError, match=message) as caught:
        Checkpoint.load(path)
    assert "run without --resume to start over" in str(caught.value)


def _saved(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    path = tmp_path / "ck.json"
    Checkpoint(_INPUT, {}, Written(RowCounts(3, 2, 1, 0), 100, 20, "a" * 64, "b" * 64), Prefix(50, "c" * 64)).save(path)
    return path, json.loads(path.read_text())


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d["written"]["counts"].update(rows=-1, scored=-2), "written.counts.rows is -1"),
        (lambda d: d["written"].update(output_bytes="100"), 'written.output_bytes is "100"'),
        (lambda d: d["written"].update(errors_bytes=20.0), "written.errors_bytes is 20.0"),
        (lambda d: d["written"].update(output_bytes=True), "written.output_bytes is true"),
        (lambda d: d["written"]["counts"].update(rows=4), "do not add up"),
        (lambda d: d["written"].update(output_sha256="xyz"), "written.output_sha256"),
        (lambda d: d["consumed"].update(length=None), "consumed.length is null"),
        (lambda d: d["consumed"].pop("sha256"), "consumed has other fields"),
        (lambda d: d.update(retries=[1]), "retries is [1]"),
        (lambda d: d.update(elapsed="1e400"), "elapsed"),
        (lambda d: d.update(layout=None), "layout is null"),
        (lambda d: d["input"].update(size=-1), "input.size is -1"),
        (lambda d: d.update(extra=1), "other fields than expected (extra)"),
    ],
)
def test_every_field_is_checked_and_named(tmp_path: Path, change: Any, named: str) -> None:
    path, data = _saved(tmp_path)
    change(data)
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigurationError, match="is malformed") as caught:
        Checkpoint.load(path)
    assert named in str(caught.value)
    assert len(str(caught.value).splitlines()) == 1


def test_a_failed_save_leaves_the_old_checkpoint_and_no_staging_file(tmp_path: Path) -> None:
    path, before = _saved(tmp_path)
    unserialisable = Checkpoint(_INPUT, {"columns": {1, 2}})  # a set: json.dump fails half-way, as a full disk would
    with pytest.raises(TypeError):
        unserialisable.save(path)
    assert json.loads(path.read_text()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.json"]
