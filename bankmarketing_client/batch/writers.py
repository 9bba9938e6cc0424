"""Writing results: append to a hidden spool beside the target, then rename; a finished file is never partial.

Results are appended as CSV to ``.<name>.partial`` in the output's folder (same file system, so the final rename
is atomic). The spool is plain appended bytes, so a checkpoint can record its length and digest (kept running as
it is written), and a resumed run checks that prefix is there unchanged before cutting the spool back to exactly
that length: whatever was written after the last checkpoint is discarded and scored again.
Parquet output is converted from the spool at the end, in row groups, so memory stays bounded.

A write that fails (a full disk) raises the :class:`OSError` with the file's name in it, and leaves no staging
file behind.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Final

from bankmarketing_client.batch.prefix import Prefix, hash_prefix
from bankmarketing_client.batch.readers import PARQUET_SUFFIXES
from bankmarketing_client.errors import ConfigurationError, DatasetError, RowError

if TYPE_CHECKING:
    from hashlib import _Hash

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


def named(exc: OSError, path: Path) -> OSError:
    """``exc`` with ``path`` as its file name (a failed ``write`` or ``fsync`` says no name), for the one line."""
    if exc.filename is None and exc.errno is not None:
        return type(exc)(exc.errno, exc.strerror, str(path))
    return exc


def _refuse(spool: Path, why: str) -> ConfigurationError:
    return ConfigurationError(f"cannot resume: the partial output {spool} {why}; run without --resume to start over")


def verify_spool(path: Path, committed: Prefix) -> _Hash:
    """The running digest of the spool's ``committed`` prefix, after checking that prefix is there unchanged; a
    one-line refusal if the spool is gone, shorter, or changed in it. Nothing is modified."""
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < committed.length:
                raise _refuse(path, f"is {size:,} bytes, shorter than the {committed.length:,} its checkpoint records")
            digest, _ = hash_prefix(fh, committed.length)
    except FileNotFoundError:
        raise _refuse(path, "is gone") from None
    except OSError as exc:
        raise _refuse(path, f"cannot be read ({exc.strerror})") from None
    if digest.hexdigest() != committed.sha256:
        raise _refuse(path, f"changed in its first {committed.length:,} bytes since the checkpoint")
    return digest


def verify_spool_rows(path: Path, length: int, rows: int) -> None:
    """Refuse (one line) an output spool whose first ``length`` bytes do not hold rows 1 to ``rows`` in order."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    found = 0
    try:
        with pa.memory_map(str(path)) as mapped:
            reader = pacsv.open_csv(
                pa.BufferReader(mapped.read_at(length, 0)),
                read_options=pacsv.ReadOptions(block_size=4 << 20, use_threads=False),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(include_columns=["row"], column_types={"row": pa.int64()}),
            )
            for batch in reader:
                numbers = batch.column(0).to_numpy(zero_copy_only=False)
                if not np.array_equal(numbers, np.arange(found + 1, found + 1 + len(numbers))):
                    raise _refuse(path, f"does not number its rows 1 to {rows:,} as its checkpoint says")
                found += len(numbers)
    except (pa.ArrowInvalid, OSError) as exc:
        raise _refuse(path, f"does not read back ({' '.join(str(exc).split())[:200]})") from None
    if found != rows:
        raise _refuse(path, f"holds {found:,} rows where its checkpoint records {rows:,}")


class AppendFile:
    """A file opened for appending, with the running SHA-256 of everything in it, fsync'ed on demand.

    A new file starts with ``header``; a resumed one (``resume``: its verified length and running digest, from
    :func:`verify_spool`) is cut back to that length and goes on from there.
    """

    def __init__(self, path: Path, *, header: bytes = b"", resume: tuple[int, _Hash] | None = None) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._fh = path.open("r+b" if resume is not None else "w+b")
            if resume is None:
                self._digest = hashlib.sha256()
                self.write(header)
            else:
                length, self._digest = resume
                self._fh.truncate(length)
                self._fh.seek(length)
        except OSError as exc:
            raise DatasetError(f"cannot write {path}: {exc.strerror}") from None

    def write(self, data: bytes) -> None:
        try:
            self._fh.write(data)
        except OSError as exc:
            raise named(exc, self.path) from None
        self._digest.update(data)

    def tell(self) -> int:
        return self._fh.tell()

    def prefix(self) -> Prefix:
        """Everything written so far, by length and digest (what a checkpoint records once it is synced)."""
        return Prefix(self._fh.tell(), self._digest.hexdigest())

    def sync(self) -> None:
        """Flush to disk: every byte written so far is durable."""
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
        except OSError as exc:
            raise named(exc, self.path) from None

    def close(self, *, abandon: bool = False) -> None:
        """Close; ``abandon``: after a failed write, whose unflushed bytes are not wanted (nor a second error)."""
        if self._fh.closed:
            return
        try:
            self._fh.close()
        except OSError as exc:
            if not abandon:
                raise named(exc, self.path) from None


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
    import pyarrow as pa

    staging = staging_path(target)
    try:
        _convert(spool, staging, schema)
    except BaseException as exc:
        staging.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise named(exc, target) from None
        if isinstance(exc, pa.ArrowInvalid):
            raise ConfigurationError(
                f"the partial output {spool} does not convert to Parquet ({' '.join(str(exc).split())[:200]}); "
                "run without --resume to start over"
            ) from None
        raise
    replace_atomically(staging, target)
    spool.unlink(missing_ok=True)


def staging_path(target: Path) -> Path:
    """Where a Parquet output is written before it is renamed into place."""
    return target.with_name(f".{target.name}.staging")


def _convert(spool: Path, staging: Path, schema: pa.Schema) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

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
