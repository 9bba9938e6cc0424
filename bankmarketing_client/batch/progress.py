"""The progress bar of a batch run: rows done, rows/s and ETA on stderr when it is a terminal, silence otherwise.

Drawn by tqdm (the ``batch`` extra), which redraws at most every :data:`REDRAW_SECONDS` and costs about a
microsecond per update: the scorer updates it once per chunk, not per row. When the bar is off no tqdm object is
made at all. It shows counts and rates only, never a URL or key, and never writes to stdout, where the summary
(or a pipe) goes.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Final, NoReturn, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm

REDRAW_SECONDS: Final = 0.25
_WITH_TOTAL: Final = "{percentage:5.1f}% |{bar}| {n:,}/{total:,} rows  {rate_fmt}  ETA {remaining}"
_WITHOUT_TOTAL: Final = "{n:,} rows  {rate_fmt}  elapsed {elapsed}"


def _bar(**options: Any) -> tqdm[NoReturn]:
    """A tqdm bar without tqdm's monitor thread (set per class; a bar this slow-moving needs no watchdog)."""
    from tqdm import tqdm

    class _Bar(tqdm):  # type: ignore[type-arg]  # generic in its stubs only: subscripting it fails at run time
        monitor_interval = 0

    return _Bar(**options)


class Progress:
    """Draws the bar when ``enabled`` (default: when ``stream``, stderr unless given, is a terminal).

    ``total`` may be set until :meth:`start`; without it the bar shows rows and rate only.
    """

    def __init__(self, total: int | None = None, *, enabled: bool | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total = total
        self._bar: tqdm[NoReturn] | None = None

    def start(self, already_done: int = 0) -> None:
        """Begin timing; ``already_done`` rows (from an earlier run) count towards the total but not the rate."""
        if not self.enabled:
            return
        self.close()
        total = self.total or None
        self._bar = _bar(
            total=total,
            initial=already_done,
            file=self.stream,
            unit=" rows",
            unit_scale=True,  # the rate as 12.3k rows/s; the counts keep their own format
            mininterval=REDRAW_SECONDS,
            bar_format=_WITH_TOTAL if total else _WITHOUT_TOTAL,
            leave=True,
        )

    def advance(self, rows: int) -> None:
        if self._bar is not None:
            self._bar.update(rows)

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
