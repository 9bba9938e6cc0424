"""The progress bar (rows/s and ETA on a terminal, nothing otherwise) and the final summary."""

from __future__ import annotations

import io
from pathlib import Path

from bankmarketing_client.batch.progress import BatchSummary, Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_on_a_terminal_shows_rate_and_eta() -> None:
    stream = _Terminal()
    progress = Progress(total=1000, stream=stream)
    assert progress.enabled
    progress.start()
    progress.advance(250)
    progress.close()
    text = stream.getvalue()
    assert "250/1,000 rows" in text
    assert "rows/s" in text
    assert "ETA" in text
    assert text.endswith("\n")


def test_quiet_when_not_a_terminal() -> None:
    stream = io.StringIO()
    progress = Progress(total=10, stream=stream)
    assert not progress.enabled
    progress.start()
    progress.advance(10)
    progress.close()
    assert stream.getvalue() == ""


def test_summary_names_every_figure() -> None:
    summary = BatchSummary(rows=100, scored=97, rejected=2, failed=1, retries=4, elapsed=2.0, output=Path("o.csv"))
    text = str(summary)
    assert "100 (97 scored, 2 rejected, 1 failed)" in text
    assert "retries:   4" in text
    assert "50 rows/s" in text
    assert not summary.ok
    assert BatchSummary(rows=3, scored=3).ok
