"""BoundedLines: every line over the limit, and only those, becomes the marker, at any read size and line end."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from bankmarketing_client.batch.bounded import TOO_LONG_MARK, BoundedLines

LIMIT = 8


def _expected(data: bytes) -> bytes:
    """The same rule written the obvious way: split at line ends (kept), replace the long lines."""
    parts = re.split(rb"(\r\n|\r|\n)", data)
    mark = TOO_LONG_MARK.encode()
    return b"".join(mark if index % 2 == 0 and len(part) > LIMIT else part for index, part in enumerate(parts))


def _streamed(path: Path, read_size: int) -> bytes:
    out = bytearray()
    with BoundedLines(path, limit=LIMIT) as stream:
        for _ in range(10_000):  # bounded: the files here are a few hundred bytes
            piece = stream.read(read_size)
            if not piece:
                break
            out += piece
    return bytes(out)


def test_every_line_over_the_limit_and_no_other_is_replaced(tmp_path: Path) -> None:
    """Lengths around the limit and its multiples (the read size), each line end, with and without a last end."""
    lengths = [0, 1, LIMIT - 1, LIMIT, LIMIT + 1, 2 * LIMIT, 2 * LIMIT + 1, 5 * LIMIT + 3]
    path = tmp_path / "lines.csv"
    cases = 0
    for first, second in itertools.product(lengths, repeat=2):
        for end, last_end in itertools.product((b"\n", b"\r\n", b"\r"), (b"", b"\n")):
            data = b"a" * first + end + b"b" * second + last_end
            path.write_bytes(data)
            for read_size in (1, 3, LIMIT, 100):
                assert _streamed(path, read_size) == _expected(data), (first, second, end, last_end, read_size)
                cases += 1
    assert cases == len(lengths) ** 2 * 6 * 4


def test_the_marker_is_one_field_that_no_real_row_can_be() -> None:
    assert "," not in TOO_LONG_MARK
    assert ";" not in TOO_LONG_MARK
    assert TOO_LONG_MARK.startswith("\x00")
