"""CSV bytes for Arrow's block reader with every over-long line replaced by a short marker line, in bounded memory.

Arrow's CSV reader fails the whole file on a row longer than two of its blocks ("straddling object"), and would
hold such a row in memory whole. Cut off here instead, a line over :data:`~bankmarketing_client.data.MAX_LINE_BYTES`
reaches Arrow as :data:`TOO_LONG_MARK`: one field where the header has twenty, so Arrow reports it as an invalid
row, with its number, and the reader turns that into a rejected row of the errors file while the run goes on.
The line itself is skipped as it streams past; memory holds at most one line of the cap and one chunk.

Lines end at ``\\n``, ``\\r\\n`` or ``\\r``, as for Arrow (whose default reads no newline inside quotes).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Final

from bankmarketing_client.data import MAX_LINE_BYTES

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

    from bankmarketing_client.batch.prefix import PrefixDigest

#: What Arrow reads in place of an over-long line (its row text in the invalid-row handler).
TOO_LONG_MARK: Final = "\x00bankmarketing-client: line too long"
TOO_LONG_REASON: Final = f"the row is longer than {MAX_LINE_BYTES:,} bytes (the limit per row); not read"


def _first_end(data: bytes | bytearray, start: int = 0) -> int:
    found = [i for i in (data.find(b"\n", start), data.find(b"\r", start)) if i >= 0]
    return min(found) if found else -1


def _last_end(data: bytes | bytearray) -> int:
    return max(data.rfind(b"\n"), data.rfind(b"\r"))


class BoundedLines(io.RawIOBase):
    """A read-only binary stream of ``path`` in which each line over ``limit`` bytes is :data:`TOO_LONG_MARK`.

    The file is read ``limit`` bytes at a time: a line that starts and ends inside one read is then within the
    limit, so only the lines crossing a read's border need measuring (a few ``find`` calls per read).
    ``digest`` is fed every byte read from the file, as read (so it covers the part of the file consumed so far).
    """

    def __init__(self, path: Path, *, limit: int = MAX_LINE_BYTES, digest: PrefixDigest | None = None) -> None:
        super().__init__()
        self._file = path.open("rb", buffering=0)
        self._limit = limit
        self._digest = digest
        self._position = 0
        self._pending = bytearray()  # the start of the current line, not passed on until it is known to fit
        self._skipping = False  # inside a line found too long: dropped up to its end
        self._out = bytearray()
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        want = len(view)
        while len(self._out) < want and not self._eof:
            data = self._file.read(self._limit) or b""
            if self._digest is not None:
                self._digest.feed(self._position, data)
            self._position += len(data)
            self._feed(data)
        n = min(want, len(self._out))
        with memoryview(self._out) as ready:
            view[:n] = ready[:n]
        del self._out[:n]
        return n

    def _feed(self, data: bytes) -> None:
        mark = TOO_LONG_MARK.encode()
        chunk = memoryview(data)  # slices without copies; searches run on ``data``
        if not data:
            self._eof = True
            self._out += mark if self._skipping else self._pending
            self._pending.clear()
            return
        start = 0
        if self._skipping:
            start = _first_end(data)
            if start < 0:
                return
            self._out += mark
            self._skipping = False
        last = _last_end(data)
        if last < start:  # no line ends in this chunk: the current line goes on
            self._pending += chunk[start:]
            if len(self._pending) > self._limit:
                self._pending.clear()
                self._skipping = True
            return
        first = _first_end(data, start)
        if len(self._pending) + first - start > self._limit:
            self._out += mark
        else:
            self._out += self._pending
            self._out += chunk[start:first]
        self._pending[:] = chunk[last + 1 :]
        self._out += chunk[first : last + 1]

    def close(self) -> None:
        self._file.close()
        super().close()
