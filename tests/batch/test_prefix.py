"""Prefix digests: every byte hashed once, in order, however a reader re-reads; a changed prefix is not resumed."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from bankmarketing_client.batch.prefix import Prefix, PrefixDigest


def _file(tmp_path: Path, size: int = 300_000) -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    return path, data


def test_a_reader_that_starts_again_from_the_top_is_hashed_once(tmp_path: Path) -> None:
    path, data = _file(tmp_path)
    digest = PrefixDigest(path)
    digest.feed(0, data[:1000])
    digest.feed(1000, data[1000:5000])
    digest.feed(0, data[:3000])  # a second reader from the start (the CSV reader's typed-to-text retry)
    digest.feed(3000, data[3000:9000])  # overlaps what is hashed, then goes past it
    assert digest.mark() == Prefix(9000, hashlib.sha256(data[:9000]).hexdigest())


def test_extend_to_reads_the_file_and_resumed_continues_the_same_digest(tmp_path: Path) -> None:
    path, data = _file(tmp_path)
    digest = PrefixDigest(path)
    digest.extend_to(120_000)
    mark = digest.mark()
    assert mark == Prefix(120_000, hashlib.sha256(data[:120_000]).hexdigest())
    resumed = PrefixDigest.resumed(path, mark)
    assert resumed is not None
    resumed.extend_to(len(data))
    assert resumed.mark() == Prefix(len(data), hashlib.sha256(data).hexdigest())


def test_a_changed_or_shorter_prefix_is_not_resumed(tmp_path: Path) -> None:
    path, data = _file(tmp_path)
    digest = PrefixDigest(path)
    digest.extend_to(100_000)
    mark = digest.mark()
    path.write_bytes(data[:50_000] + bytes([data[50_000] ^ 1]) + data[50_001:])
    assert PrefixDigest.resumed(path, mark) is None
    path.write_bytes(data[:99_999])
    assert PrefixDigest.resumed(path, mark) is None
    path.write_bytes(data[:100_000] + b"changed after the prefix: not its business")
    assert PrefixDigest.resumed(path, mark) is not None
