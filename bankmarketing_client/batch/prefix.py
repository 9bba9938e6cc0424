"""Digests of a file's first bytes, kept running while the file is read or written, so none is ever re-read.

A checkpoint records, for the input and for each spool, a :class:`Prefix`: how many bytes from the start it
vouches for, and their SHA-256. A resume hashes those bytes once and refuses to go on if they changed: a spool cut
short or edited, an input row edited in the part already scored (size and mtime kept or not). SHA-256 because it
is the fastest of hashlib's digests on CPUs with SHA extensions (about 1.6 GB/s on the 2-core machine this was
measured on, blake2b 0.76 GB/s); ``bench/bench_input_digest.py`` prints what it costs per GB of input.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final

if TYPE_CHECKING:
    from hashlib import _Hash

_BLOCK: Final = 1 << 20


@dataclass(frozen=True)
class Prefix:
    """The first ``length`` bytes of a file, by their SHA-256 (hex)."""

    length: int
    sha256: str


def hash_prefix(fh: BinaryIO, length: int) -> tuple[_Hash, int]:
    """The running digest of ``fh``'s first ``length`` bytes (read from the start) and how many there were."""
    digest = hashlib.sha256()
    fh.seek(0)
    done = 0
    while done < length:
        block = fh.read(min(_BLOCK, length - done))
        if not block:
            break
        digest.update(block)
        done += len(block)
    return digest, done


class PrefixDigest:
    """The digest of the part of a file read so far from its start, fed by whatever reads it.

    :meth:`feed` takes what a sequential reader just read at ``position``; bytes already hashed (a reader that
    starts again from the top) are skipped, so the digest always covers ``[0, length)`` exactly once.
    :meth:`extend_to` reads the file itself, for readers that do not read it in order (Parquet). A lock keeps the
    length and digest of :meth:`mark` consistent even if the feeding reader runs in another thread.
    """

    def __init__(self, path: Path, digest: _Hash | None = None, length: int = 0) -> None:
        self.path = path
        self._digest = digest if digest is not None else hashlib.sha256()
        self._length = length
        self._lock = threading.Lock()

    @classmethod
    def resumed(cls, path: Path, prefix: Prefix) -> PrefixDigest | None:
        """The digest continued from ``prefix`` after hashing the file's first bytes again; None if they changed."""
        with path.open("rb") as fh:
            digest, got = hash_prefix(fh, prefix.length)
        if got != prefix.length or digest.hexdigest() != prefix.sha256:
            return None
        return cls(path, digest, got)

    def feed(self, position: int, data: bytes) -> None:
        end = position + len(data)
        with self._lock:
            if position <= self._length < end:
                self._digest.update(memoryview(data)[self._length - position :])
                self._length = end

    def extend_to(self, end: int) -> None:
        """Hash the file up to ``end`` (a no-op for what is already hashed)."""
        if end <= self._length:
            return
        with self.path.open("rb") as fh:
            fh.seek(self._length)
            while self._length < end:
                block = fh.read(min(_BLOCK, end - self._length))
                if not block:
                    break
                self.feed(self._length, block)

    def mark(self) -> Prefix:
        with self._lock:
            return Prefix(self._length, self._digest.hexdigest())
