"""The final summary and the one set of row counters it shares with the checkpoint."""

from __future__ import annotations

from pathlib import Path

from bankmarketing_client.batch.summary import BatchSummary, RowCounts


def test_summary_names_every_figure() -> None:
    summary = BatchSummary(RowCounts(100, 97, 2, 1), retries=4, elapsed=2.0, output=Path("o.csv"))
    text = str(summary)
    assert "100 (97 scored, 2 rejected, 1 failed)" in text
    assert "retries:   4" in text
    assert "50 rows/s" in text
    assert not summary.ok
    assert BatchSummary(RowCounts(rows=3, scored=3)).ok
    assert not BatchSummary(RowCounts(rows=3, scored=3), stopped_early=True).ok


def test_counts_add_field_by_field() -> None:
    assert RowCounts(10, 7, 2, 1) + RowCounts(5, 5, 0, 0) == RowCounts(15, 12, 2, 1)
