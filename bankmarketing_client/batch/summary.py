"""What a batch run did: the one set of row counters, and the summary printed at the end.

:class:`RowCounts` is the only place the four counters live. A scored chunk adds its counts, the checkpoint
stores them, and the summary shows them: each takes the whole object, so no field is copied by hand and a new
counter is added in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RowCounts:
    """Rows done, and how each ended: scored, rejected by validation, or failed at the endpoint."""

    rows: int = 0
    scored: int = 0
    rejected: int = 0
    failed: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RowCounts:
        return cls(**data)

    def __add__(self, other: RowCounts) -> RowCounts:
        return RowCounts(
            self.rows + other.rows,
            self.scored + other.scored,
            self.rejected + other.rejected,
            self.failed + other.failed,
        )


@dataclass
class BatchSummary:
    """What a batch run did. ``ok`` is True when every input row got a prediction."""

    counts: RowCounts = field(default_factory=RowCounts)
    retries: int = 0
    elapsed: float = 0.0
    resumed_rows: int = 0
    batch_size: int = 0
    concurrency: int = 0
    output: Path | None = None
    errors_path: Path | None = None
    stopped_early: bool = False

    @property
    def rows(self) -> int:
        return self.counts.rows

    @property
    def scored(self) -> int:
        return self.counts.scored

    @property
    def rejected(self) -> int:
        return self.counts.rejected

    @property
    def failed(self) -> int:
        return self.counts.failed

    @property
    def ok(self) -> bool:
        return self.rejected == 0 and self.failed == 0 and not self.stopped_early

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.elapsed if self.elapsed > 0 else 0.0

    def lines(self) -> list[str]:
        out = [
            f"rows:      {self.rows:,} ({self.scored:,} scored, {self.rejected:,} rejected, {self.failed:,} failed)",
            f"retries:   {self.retries:,}",
            f"elapsed:   {self.elapsed:.2f} s ({self.rows_per_second:,.0f} rows/s)",
            f"tuning:    batch size {self.batch_size:,}, concurrency {self.concurrency}",
        ]
        if self.resumed_rows:
            out.append(f"resumed:   after {self.resumed_rows:,} rows done by an earlier run")
        if self.output is not None:
            out.append(f"output:    {self.output}")
        if self.errors_path is not None:
            out.append(f"errors:    {self.errors_path}")
        if self.stopped_early:
            out.append("stopped:   at the first invalid row (--fail-fast); no output written")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())
