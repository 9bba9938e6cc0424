"""One run per output at a time: an exclusive OS lock on a lock file beside the output.

Two runs writing one output share its spool and checkpoint, and would interleave their rows. So a run takes
``flock(LOCK_EX | LOCK_NB)`` on ``.<name>.lock`` before touching anything else, and a second run is refused at
once with a line naming the holder (its pid and start time, which the holder writes into the file). The kernel
drops the lock when the holder's process ends in any way, ``kill -9`` included, so a stale lock file never
blocks a later run or a ``--resume``; a run that ends normally also deletes it.

A lock file deleted and created again between another run's ``open`` and ``flock`` would let two runs hold locks
on two different files; so after locking, the run checks that the path still names the file it locked.
POSIX only (``fcntl``); elsewhere no lock is taken and a warning says so.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from bankmarketing_client.errors import ConfigurationError, DatasetError

logger = logging.getLogger("bankmarketing_client.batch")

#: Attempts when the lock file is replaced under us (each one is a race lost to a run that just ended).
_ATTEMPTS: Final = 5


def lock_path(output: Path) -> Path:
    return output.with_name(f".{output.name}.lock")


def _holder(fd: int) -> str:
    """What the running holder wrote about itself, for the refusal message."""
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    # Another user's process may hold a lock on a file it wrote: show its words as one line of plain text.
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text or "a run that is just starting"


def _acquire(path: Path, output: Path) -> int:
    import fcntl

    for _ in range(_ATTEMPTS):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)  # as the spool would be: missing folders are made
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise DatasetError(f"cannot write beside {output}: {exc.strerror} ({path.parent})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise ConfigurationError(
                f"{output} is being written by another run ({holder}); wait for it to end, or choose another output"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the file we locked was deleted by a run that just ended: lock the new one
    raise ConfigurationError(f"{output}: could not lock {path} (other runs keep replacing it); try again")


@contextlib.contextmanager
def output_lock(output: Path) -> Iterator[Path]:
    """Hold the lock of ``output`` for the block; :class:`ConfigurationError` naming the holder if another run
    has it."""
    path = lock_path(output)
    if sys.platform == "win32":  # pragma: no cover - no flock: run unguarded, but say so
        logger.warning("no output lock on Windows: do not run two scorers on %s at once", output)
        yield path
        return
    fd = _acquire(path, output)
    try:
        started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {started}\n".encode(), 0)
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # still holding the lock, so no other run can be using this file
        os.close(fd)
