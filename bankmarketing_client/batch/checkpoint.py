"""Checkpoints: how far a run got, durably, so that ``--resume`` scores every row exactly once.

The rule that makes it exactly-once: results are appended to the spool in input order, the spool (and the errors
spool) are fsync'ed, and only then is a checkpoint written (to a temporary file, fsync'ed, renamed over the old
one) saying "the first N rows are done and their results are the first B bytes of the spool". A run killed at any
instant therefore leaves a checkpoint that is true; rows written after it are cut off and scored again on resume.

A checkpoint also records what it belongs to (input size, modification time and a digest of its first and last
bytes, plus the output layout), so a resume against a changed input or different options is refused instead of
silently mixing two runs; and the SHA-256 of each spool's first B bytes and of the part of the input read so far
(:mod:`.prefix`), so a resume can check that what it continues is what was written and what was scored.

:meth:`Checkpoint.load` checks every field (type, sign, and that the counters add up) before anything uses one:
a checkpoint edited by hand or written by another version is one line saying how to start over, never a
traceback, and never blamed on the input.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from bankmarketing_client.batch.prefix import Prefix
from bankmarketing_client.batch.summary import RowCounts
from bankmarketing_client.errors import ConfigurationError

#: 2: the counters and spool lengths nested under ``written`` (1 had them flat); 3: the spools' digests
#: (``written.*_sha256``) and the input's (``consumed``) added.
VERSION: Final = 3
_PROBE_BYTES: Final = 1 << 16
#: SHA-256 of nothing: the digest of a spool or input prefix of length 0.
EMPTY_SHA256: Final = hashlib.sha256().hexdigest()
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
_START_OVER: Final = "run without --resume to start over"


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
    """What is completely written: the rows' counts and the spools' lengths and digests that hold exactly those rows.

    Frozen and replaced as one object, so a signal arriving mid-update never sees counts from one chunk and
    lengths from another.
    """

    counts: RowCounts = field(default_factory=RowCounts)
    output_bytes: int = 0
    errors_bytes: int = 0
    output_sha256: str = EMPTY_SHA256
    errors_sha256: str = EMPTY_SHA256

    def plus(self, counts: RowCounts, output: Prefix, errors: Prefix) -> Written:
        """This state with one more chunk's ``counts`` added, at the spools' new lengths and digests."""
        return Written(self.counts + counts, output.length, errors.length, output.sha256, errors.sha256)

    @property
    def output(self) -> Prefix:
        return Prefix(self.output_bytes, self.output_sha256)

    @property
    def errors(self) -> Prefix:
        return Prefix(self.errors_bytes, self.errors_sha256)


class _Malformed(Exception):
    """A field of a checkpoint that is not what this version writes; the message names it."""


def _quoted(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _whole(data: dict[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    if type(value) is not int or value < 0:  # bool is an int: refused too
        raise _Malformed(f"{where}{key} is {_quoted(value)}, not a whole number of at least 0")
    return value


def _digest(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not _HEX_DIGEST.fullmatch(value):
        raise _Malformed(f"{where}{key} is {_quoted(value)}, not a SHA-256 in hex")
    return value


def _object(data: dict[str, Any], key: str, keys: set[str], where: str = "") -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise _Malformed(f"{where}{key} is {_quoted(value)}, not an object")
    if set(value) != keys:
        odd = sorted(set(value) ^ keys)
        raise _Malformed(f"{where}{key} has other fields than expected ({', '.join(odd)})")
    return value


def _parse(data: dict[str, Any]) -> Checkpoint:
    """A checkpoint from its JSON, every field checked (:class:`_Malformed` names the first that is wrong)."""
    names = {"input", "layout", "written", "consumed", "retries", "elapsed", "version"}
    if set(data) != names:
        raise _Malformed(f"it has other fields than expected ({', '.join(sorted(set(data) ^ names))})")
    source = _object(data, "input", {"path", "size", "mtime_ns", "head_tail"})
    if not isinstance(source["path"], str) or type(source["mtime_ns"]) is not int:
        raise _Malformed("input.path or input.mtime_ns is not what it should be")
    _whole(source, "size", "input.")
    _digest(source, "head_tail", "input.")
    layout = data["layout"]
    if not isinstance(layout, dict):
        raise _Malformed(f"layout is {_quoted(layout)}, not an object")
    written = _object(
        data, "written", {"counts", *(f"{s}_{k}" for s in ("output", "errors") for k in ("bytes", "sha256"))}
    )
    counts = _object(written, "counts", {"rows", "scored", "rejected", "failed"}, "written.")
    rows, scored, rejected, failed = (
        _whole(counts, k, "written.counts.") for k in ("rows", "scored", "rejected", "failed")
    )
    if scored + rejected + failed != rows:
        raise _Malformed(
            f"its counts do not add up ({scored} scored + {rejected} rejected + {failed} failed != {rows} rows)"
        )
    consumed = _object(data, "consumed", {"length", "sha256"})
    elapsed = data["elapsed"]
    if type(elapsed) not in (int, float) or not math.isfinite(elapsed) or elapsed < 0:
        raise _Malformed(f"elapsed is {_quoted(elapsed)}, not a number of seconds")
    return Checkpoint(
        input=source,
        layout=layout,
        written=Written(
            RowCounts(rows, scored, rejected, failed),
            _whole(written, "output_bytes", "written."),
            _whole(written, "errors_bytes", "written."),
            _digest(written, "output_sha256", "written."),
            _digest(written, "errors_sha256", "written."),
        ),
        consumed=Prefix(_whole(consumed, "length", "consumed."), _digest(consumed, "sha256", "consumed.")),
        retries=_whole(data, "retries", ""),
        elapsed=float(elapsed),
    )


@dataclass
class Checkpoint:
    """Progress of one run; the counters let the final summary cover the interrupted parts too.

    ``consumed``: the part of the input read so far (it holds at least every row counted in ``written``).
    """

    input: dict[str, Any]
    layout: dict[str, Any]
    written: Written = field(default_factory=Written)
    consumed: Prefix = field(default_factory=lambda: Prefix(0, EMPTY_SHA256))
    retries: int = 0
    elapsed: float = 0.0
    version: int = field(default=VERSION)

    @property
    def rows_done(self) -> int:
        return self.written.counts.rows

    def save(self, path: Path) -> None:
        """Write to a staging file, fsync, rename over ``path``: a failure (a full disk) leaves the old one and no
        staging file, and raises the :class:`OSError` naming ``path``."""
        staging = path.with_name(path.name + ".tmp")
        try:
            with staging.open("w", encoding="utf-8") as fh:
                json.dump(asdict(self), fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(staging, path)
        except BaseException as exc:
            staging.unlink(missing_ok=True)
            if isinstance(exc, OSError) and exc.errno is not None:
                raise OSError(exc.errno, exc.strerror, str(path)) from None
            raise

    @classmethod
    def load(cls, path: Path) -> Checkpoint | None:
        """The checkpoint at ``path`` (None: there is none), every field checked; a one-line
        :class:`ConfigurationError` saying how to start over if it is unreadable, of another version or malformed."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"the checkpoint {path} is unreadable ({exc}); {_START_OVER}") from None
        if not isinstance(data, dict) or data.get("version") != VERSION:
            found = data.get("version") if isinstance(data, dict) else None
            raise ConfigurationError(
                f"the checkpoint {path} is from another version (format {_quoted(found)}, this one reads "
                f"{VERSION}: it cannot be checked against the partial output); {_START_OVER}"
            )
        try:
            return _parse(data)
        except _Malformed as exc:
            raise ConfigurationError(f"the checkpoint {path} is malformed: {exc}; {_START_OVER}") from None

    def matches(self, input_fingerprint: dict[str, Any], layout: dict[str, Any]) -> str | None:
        """Why this checkpoint cannot be resumed with this input and layout, or None if it can."""
        if self.input != input_fingerprint:
            return "the input file changed since the interrupted run"
        if self.layout != layout:
            changed = sorted(k for k in set(self.layout) | set(layout) if self.layout.get(k) != layout.get(k))
            return "the options differ from the interrupted run's (" + ", ".join(changed) + ")"
        return None
