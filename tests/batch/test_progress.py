"""The progress bar: rows, rows/s and ETA on a terminal (or when asked), nothing otherwise, throttled."""

from __future__ import annotations

import io

from bankmarketing_client.batch.progress import Progress


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


def test_without_a_total_it_counts_from_the_rows_an_earlier_run_did() -> None:
    stream = _Terminal()
    progress = Progress(stream=stream)
    progress.start(already_done=100)
    progress.advance(2500)
    progress.close()
    final = stream.getvalue().rstrip("\n").split("\r")[-1]
    assert final.startswith("2,600 rows")
    assert "ETA" not in final


def test_quiet_when_not_a_terminal_unless_asked() -> None:
    stream = io.StringIO()
    progress = Progress(total=10, stream=stream)
    assert not progress.enabled
    progress.start()
    progress.advance(10)
    progress.close()
    assert stream.getvalue() == ""

    forced = Progress(total=10, enabled=True, stream=stream)
    forced.start()
    forced.advance(10)
    forced.close()
    assert "10/10 rows" in stream.getvalue()


def test_quiet_on_a_terminal_when_told() -> None:
    stream = _Terminal()
    progress = Progress(total=10, enabled=False, stream=stream)
    progress.start()
    progress.advance(10)
    progress.close()
    assert stream.getvalue() == ""


def test_redraws_are_throttled() -> None:
    """10,000 updates in a tight loop: a redraw at most every 0.25 s, so a handful of lines, not 10,000. (The
    bound of 100 redraws would need the loop to take 25 s: it cannot fail on a slow machine, only on a bar that
    redraws per update.)"""
    stream = _Terminal()
    progress = Progress(total=10_000, stream=stream)
    progress.start()
    for _ in range(10_000):
        progress.advance(1)
    progress.close()
    assert stream.getvalue().count("\r") < 100
    assert "10,000/10,000 rows" in stream.getvalue()
