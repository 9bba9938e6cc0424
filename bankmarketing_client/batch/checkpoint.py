"""Checkpoints: how far a run got, durably, so that ``--resume`` scores every row exactly once.

The rule that makes it exactly-once: results are appended to the spool in input order, the spool (and the errors
spool) are fsync'ed, and only then is a checkpoint written (to a temporary file, fsync'ed, renamed over the old
one) saying "the first N rows are done and their results are the first B bytes of the spool". A run killed at any
instant therefore leaves a checkpoint that is true; rows written after it are cut off and scored again on resume.

A checkpoint also records what it belongs to (input size, modification time and a digest of its first and last
bytes, plus the output layout), so a resume against a changed input or different options is refused instead of
silently mixing two runs.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from bankmarketing_client.batch.summary import RowCounts
from bankmarketing_client.errors import ConfigurationError

#: 2: the counters and spool lengths nested under ``written`` (1 had them flat).
VERSION: Final = 2
_PROBE_BYTES: Final = 1 << 16


def checkpoint_path(output: Path) -> Path:
    return output.with_name(f".{output.name}.checkpoint.json")


def fingerprint(path: Path) -> dict[str, Any]:
    """Cheap identity of an input file: size, mtime and a digest of its first and last 64 KiB."""
    stat = path.stat()
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        digest.update(fh.read(_PROBE_BYTES))
        if stat.st_size > _PROBE_BYTES:
            fh.seek(max(_PROBE_BYTES, stat.st_size - _PROBE_BYTES))
            digest.update(fh.read(_PROBE_BYTES))
    return {
        "path": str(path.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "head_tail": digest.hexdigest(),
    }


@dataclass(frozen=True)
class Written:
    """What is completely written: the rows' counts and the spools' lengths that hold exactly those rows.

    Frozen and replaced as one object, so a signal arriving mid-update never sees counts from one chunk and
    lengths from another.
    """

    counts: RowCounts = field(default_factory=RowCounts)
    output_bytes: int = 0
    errors_bytes: int = 0

    def plus(self, counts: RowCounts, output_bytes: int, errors_bytes: int) -> Written:
        """This state with one more chunk's ``counts`` added, at the spools' new lengths."""
        return Written(self.counts + counts, output_bytes, errors_bytes)


@dataclass
class Checkpoint:
    """Progress of one run; the counters let the final summary cover the interrupted parts too."""

    input: dict[str, Any]
    layout: dict[str, Any]
    written: Written = field(default_factory=Written)
    retries: int = 0
    elapsed: float = 0.0
    version: int = field(default=VERSION)

    @property
    def rows_done(self) -> int:
        return self.written.counts.rows

    def save(self, path: Path) -> None:
        staging = path.with_name(path.name + ".tmp")
        with staging.open("w", encoding="utf-8") as fh:
            json.dump(asdict(self), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(staging, path)

    @classmethod
    def load(cls, path: Path) -> Checkpoint | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"the checkpoint {path} is unreadable ({exc}); delete it to start over") from None
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ConfigurationError(f"the checkpoint {path} is from another version; delete it to start over")
        try:
            written = data.pop("written")
            counts = RowCounts.from_dict(written.pop("counts"))
            return cls(written=Written(counts, **written), **data)
        except (TypeError, KeyError, AttributeError):
            raise ConfigurationError(f"the checkpoint {path} is malformed; delete it to start over") from None

    def matches(self, input_fingerprint: dict[str, Any], layout: dict[str, Any]) -> str | None:
        """Why this checkpoint cannot be resumed with this input and layout, or None if it can."""
        if self.input != input_fingerprint:
            return "the input file changed since the interrupted run"
        if self.layout != layout:
            changed = sorted(k for k in set(self.layout) | set(layout) if self.layout.get(k) != layout.get(k))
            return "the options differ from the interrupted run's (" + ", ".join(changed) + ")"
        return None
