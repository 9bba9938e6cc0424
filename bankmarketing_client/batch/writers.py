"""Writing results: append to a hidden spool beside the target, then rename; a finished file is never partial.

Results are appended as CSV to ``.<name>.partial`` in the output's folder (same file system, so the final rename
is atomic). The spool is plain appended bytes, so a checkpoint can record its length and a resumed run can cut it
back to exactly that length: whatever was written after the last checkpoint is discarded and scored again.
Parquet output is converted from the spool at the end, in row groups, so memory stays bounded.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Final

from bankmarketing_client.batch.readers import PARQUET_SUFFIXES
from bankmarketing_client.errors import DatasetError, RowError

if TYPE_CHECKING:
    import pyarrow as pa

ERROR_COLUMNS: Final = ("row", "field", "reason")


def spool_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.partial")


def check_writable(path: Path, what: str) -> None:
    """Refuse, before any row is sent, a ``path`` that cannot end up holding the file: a directory, a device or
    other non-file, a read-only file, or a folder (or nearest existing ancestor) that is not a writable folder."""
    if path.is_dir():
        raise DatasetError(f"the {what} {path} is a directory; give a file name, e.g. {path / 'scored.csv'}")
    if path.exists():
        if not path.is_file():
            raise DatasetError(f"the {what} {path} exists and is not a regular file; give another file name")
        if not os.access(path, os.W_OK):
            raise DatasetError(f"the {what} {path} is read-only; make it writable or give another file name")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:  # parents are created: the nearest existing one counts
        folder = folder.parent
    if not folder.is_dir():
        raise DatasetError(f"cannot write the {what} {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DatasetError(f"cannot write the {what} {path}: no permission to write in {folder}")


def output_format(path: Path) -> str:
    return "parquet" if path.suffix.lower() in PARQUET_SUFFIXES else "csv"


class AppendFile:
    """A file opened for appending at a known length (truncated back to it on resume), fsync'ed on demand."""

    def __init__(self, path: Path, *, length: int | None = None, header: bytes = b"") -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._fh = path.open("r+b" if length is not None else "w+b")
            if length is None:
                self._fh.write(header)
            else:
                self._fh.truncate(length)
                self._fh.seek(length)
        except OSError as exc:
            raise DatasetError(f"cannot write {path}: {exc.strerror}") from None

    def write(self, data: bytes) -> None:
        self._fh.write(data)

    def tell(self) -> int:
        return self._fh.tell()

    def sync(self) -> None:
        """Flush to disk: every byte written so far is durable."""
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


def csv_header(names: list[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(names)
    return buffer.getvalue().encode()


def table_to_csv(table: pa.Table) -> bytes:
    """Rows of ``table`` as CSV bytes without a header (Arrow's writer: quoting where needed, nulls empty)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    data: bytes = sink.getvalue().to_pybytes()
    return data


def errors_to_csv(errors: list[RowError]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for error in errors:
        writer.writerow((error.row, error.field, error.reason))
    return buffer.getvalue().encode()


def replace_atomically(source: Path, target: Path) -> None:
    """Rename into place and fsync the folder, so the finished file survives a crash right after."""
    os.replace(source, target)
    try:
        fd = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def finish_output(spool: Path, target: Path, schema: pa.Schema) -> None:
    """Move the finished spool into place: renamed for CSV, converted row group by row group for Parquet."""
    if output_format(target) == "csv":
        replace_atomically(spool, target)
        return
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    staging = target.with_name(f".{target.name}.staging")
    reader = pacsv.open_csv(
        spool,
        read_options=pacsv.ReadOptions(block_size=4 << 20),
        # Only an unquoted empty cell is null: that is how the spool's writer marks a missing value. Arrow's
        # default null spellings ("NA", "null", "N/A", "nan", ...) would turn ids that are such text into nulls,
        # and the writer quotes every string, the empty one included, so text never reads back as null.
        convert_options=pacsv.ConvertOptions(
            column_types=schema, null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False
        ),
    )
    with pq.ParquetWriter(staging, schema) as writer:
        for batch in reader:
            writer.write_batch(batch)
    with staging.open("rb") as fh:
        os.fsync(fh.fileno())
    replace_atomically(staging, target)
    spool.unlink(missing_ok=True)
