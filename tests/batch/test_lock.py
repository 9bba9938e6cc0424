"""The output lock in-process: what the CLI tests (test_guards, test_resume) rely on, at the edges."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bankmarketing_client.batch.lock import lock_path, output_lock
from bankmarketing_client.errors import ConfigurationError


def test_a_held_lock_refuses_another_holder_and_is_removed_at_the_end(tmp_path: Path) -> None:
    """flock locks belong to an open file, so a second open in the same process is refused like another run."""
    output = tmp_path / "out.csv"
    with output_lock(output) as path:
        assert path == lock_path(output)
        assert path.read_text().startswith(f"pid {os.getpid()}, started ")
        refusal = rf"being written by another run \(pid {os.getpid()}, started"
        with pytest.raises(ConfigurationError, match=refusal), output_lock(output):
            pass  # pragma: no cover - never reached
        assert path.is_file(), "a refused run must leave the holder's lock file alone"
    assert not path.exists()


def test_a_stale_lock_file_does_not_block(tmp_path: Path) -> None:
    """What kill -9 leaves: the file, without a lock on it."""
    output = tmp_path / "out.csv"
    lock_path(output).write_text("pid 1, started long ago\n")
    with output_lock(output) as path:
        assert path.read_text().startswith(f"pid {os.getpid()}")
    assert not path.exists()


def test_a_lock_file_replaced_after_opening_is_not_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that ends deletes its lock file: a run that opened the old file must lock the new one, not the old.

    os.open is wrapped because no real interleaving of two processes can be forced into that instant.
    """
    output = tmp_path / "out.csv"
    path = lock_path(output)
    real_open = os.open
    replaced: list[int] = []

    def open_then_replace(name: str | os.PathLike[str], flags: int, mode: int = 0o777) -> int:
        fd = real_open(name, flags, mode)
        if not replaced and Path(name) == path:  # the race, made certain: the file is swapped after our open
            replaced.append(os.fstat(fd).st_ino)
            os.unlink(path)
            path.write_text("")
        return fd

    monkeypatch.setattr(os, "open", open_then_replace)
    with output_lock(output):
        monkeypatch.undo()
        assert replaced
        assert os.stat(path).st_ino != replaced[0]
        # the lock is on the file the path names now, so another run is refused
        with pytest.raises(ConfigurationError, match="another run"), output_lock(output):
            pass  # pragma: no cover - never reached


def test_the_holders_words_reach_the_refusal_as_one_line_of_plain_text(tmp_path: Path) -> None:
    """A lock held by someone else's process over a file it filled: no terminal escapes or line breaks pass on."""
    import fcntl

    output = tmp_path / "out.csv"
    path = lock_path(output)
    path.write_bytes(b"pid 7\x1b[2J\r\nFAKE: all rows scored\x00")
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ConfigurationError) as refused, output_lock(output):
            pass  # pragma: no cover - never reached
    finally:
        os.close(fd)
    message = str(refused.value)
    assert "(pid 7 [2J FAKE: all rows scored)" in message
    assert message.isprintable()
