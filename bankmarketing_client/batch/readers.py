"""Reading scoring input in chunks: CSV (comma or semicolon) and Parquet, never the whole file at once.

Both formats come out as a stream of Arrow tables holding the 20 feature columns (and the id column, if any), so
that validation and request building run column-wise in Arrow's C++ code rather than row by row in Python: on a
2-core machine shared with the endpoint, every microsecond the client spends per row is taken from the model.
CSV columns are read as text, exactly as written; turning text into numbers is validation's job, which can then
name the row and field of a bad value instead of failing the whole chunk.

Memory stays bounded whatever the file holds: the header is read from at most two lines of
:data:`~bankmarketing_client.data.MAX_LINE_BYTES` (128 KiB) each, and a longer header is refused; a data row
longer than that is never read whole (:mod:`.bounded`) but becomes a rejected row of the errors file.

Every problem with the file itself (empty, header only or too long, missing column, wrong delimiter, not Parquet)
is a :class:`~bankmarketing_client.errors.DatasetError` with a one-line message naming the file.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from bankmarketing_client.batch.bounded import TOO_LONG_MARK, TOO_LONG_REASON, BoundedLines
from bankmarketing_client.data import FEATURE_COLUMNS, FLOAT_COLUMNS, INTEGER_COLUMNS, sniff_header
from bankmarketing_client.errors import DatasetError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bankmarketing_client.batch.prefix import PrefixDigest

Format = Literal["csv", "parquet"]
#: Column names taken as the row's own id, in order of preference, when ``id_column`` is not given.
ID_CANDIDATES: Final = ("id", "customer_id", "client_id", "row_id", "record_id")
#: File name endings read and written as Parquet (anything else is CSV).
PARQUET_SUFFIXES: Final = (".parquet", ".pq")
#: Bytes per CSV block read by Arrow: about 700 rows of this dataset. Arrow buffers dozens of blocks ahead,
#: so this size sets the reader's memory: 256 KiB keeps it near 50 MB where 1 MiB costs about 100 MB. Arrow
#: fails on a row spanning more than two blocks, so it must stay at least MAX_LINE_BYTES (the longest row let in).
CSV_BLOCK_BYTES: Final = 1 << 18
PARQUET_BATCH_ROWS: Final = 8192
#: Extra column of every CSV table: why a row could not be split into the header's columns (null for good rows).
#: Such a row stays in the stream as a row of nulls, so numbering and output keep one row per input row.
RECORD_ERROR_COLUMN: Final = "\x00record error"


def detect_format(path: Path) -> Format:
    """``parquet`` for ``.parquet``/``.pq`` or a file starting with Parquet's magic bytes, else ``csv``."""
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return "parquet"
    if path.suffix.lower() in (".csv", ".txt"):
        return "csv"
    try:
        with path.open("rb") as fh:
            return "parquet" if fh.read(4) == b"PAR1" else "csv"
    except OSError:
        return "csv"


@dataclass(frozen=True)
class InputFile:
    """An input file checked for shape: its format, its columns and the id column carried to the output."""

    path: Path
    format: Format
    columns: tuple[str, ...]
    id_column: str | None
    delimiter: str = ","
    total_rows: int | None = None
    #: The id column's Arrow type as stored (Parquet), None for text (CSV); the output keeps it.
    id_type: pa.DataType | None = None

    def iter_tables(self, *, skip_rows: int = 0, digest: PrefixDigest | None = None) -> Iterator[pa.Table]:
        """The feature (and id) columns in chunks, after skipping ``skip_rows`` data rows (for resume).

        ``digest`` is extended over the file's bytes before any row they hold is yielded, so that it covers at
        least every row yielded so far (a checkpoint records it; a resume checks that part is unchanged)."""
        wanted = [*FEATURE_COLUMNS, *([self.id_column] if self.id_column else [])]
        if self.format == "parquet":
            yield from _parquet_tables(self.path, wanted, skip_rows, digest)
        else:
            yield from _csv_tables(self, wanted, skip_rows, digest)


def open_input(
    path: str | Path,
    *,
    format: Format | None = None,
    delimiter: str | None = None,
    id_column: str | None = None,
    count_rows: bool = False,
) -> InputFile:
    """Check the file's shape and return how to read it; ``count_rows`` also counts rows (for an ETA)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    fmt = format or detect_format(path)
    total: int | None
    schema: pa.Schema | None = None
    if fmt == "parquet":
        schema, total = _parquet_header(path)
        columns = list(schema.names)
        delim = ","
    else:
        delim, columns = _csv_header(path, delimiter)
        total = _count_csv_rows(path) if count_rows else None
    missing = [c for c in FEATURE_COLUMNS if c not in columns]
    if missing:
        raise DatasetError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(columns)}. "
            f"The input needs the 20 feature columns {', '.join(FEATURE_COLUMNS)}"
        )
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise DatasetError(f"{path}: column(s) {', '.join(duplicated)} appear more than once")
    chosen = _id_column(path, columns, id_column)
    if total == 0:
        raise DatasetError(f"{path}: the file has a header but no data rows; nothing to score")
    id_type = None
    if schema is not None and chosen is not None:
        import pyarrow as pa

        id_type = schema.field(chosen).type
        if pa.types.is_dictionary(id_type):  # the output holds the values, not a dictionary
            id_type = id_type.value_type
    return InputFile(path, fmt, tuple(columns), chosen, delim, total, id_type)


def _id_column(path: Path, columns: list[str], id_column: str | None) -> str | None:
    if id_column is not None:
        if id_column not in columns:
            raise DatasetError(f"{path}: the id column {id_column!r} is not in the file ({', '.join(columns)})")
        if id_column in FEATURE_COLUMNS:
            raise DatasetError(f"{path}: the id column {id_column!r} is a feature; choose another")
        return id_column
    lowered = {c.lower(): c for c in columns}
    for candidate in ID_CANDIDATES:
        if candidate in lowered:
            return lowered[candidate]
    return None


def _csv_header(path: Path, delimiter: str | None) -> tuple[str, list[str]]:
    """The delimiter and column names (:func:`~bankmarketing_client.data.sniff_header`); a file must hold rows."""
    header = sniff_header(path, delimiter)
    if not header.has_rows:
        raise DatasetError(f"{path}: the file has a header but no data rows; nothing to score")
    return header.delimiter, header.names


def _count_csv_rows(path: Path) -> int:
    """Data rows, counted as newlines minus the header (a fast byte scan; quoted newlines are not expected)."""
    count = 0
    last = b"\n"
    with path.open("rb") as fh:
        while block := fh.read(1 << 22):
            count += block.count(b"\n")
            last = block[-1:]
    if last != b"\n":
        count += 1
    return max(0, count - 1)


def _csv_tables(
    source: InputFile, wanted: list[str], skip_rows: int, digest: PrefixDigest | None
) -> Iterator[pa.Table]:
    """Numeric columns parsed by Arrow's CSV reader while they parse; the rest of the file as text after that.

    Parsing numbers in the reader costs a tenth of casting text afterwards, but one bad cell fails the whole
    block. So the first such failure reopens the file as text from the first row not yet yielded, and
    validation then finds and names the bad cell.
    """
    import pyarrow as pa

    yielded = 0
    try:
        for table in _csv_reader(source, wanted, skip_rows, digest, typed=True):
            yielded += table.num_rows
            yield table
        return
    except pa.ArrowInvalid:
        pass  # a cell that is not a number: continue as text
    for table in _csv_reader(source, wanted, skip_rows + yielded, digest, typed=False):
        yield table


def _csv_reader(
    source: InputFile, wanted: list[str], skip_rows: int, digest: PrefixDigest | None, *, typed: bool
) -> Iterator[pa.Table]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    numeric = INTEGER_COLUMNS | FLOAT_COLUMNS
    malformed: deque[tuple[int, str]] = deque()  # (data row, reason), in file order

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        if row.number is None or row.number < 0:
            return "error"  # a row that cannot be placed: stop with Arrow's message rather than misnumber
        if row.text == TOO_LONG_MARK:
            reason = TOO_LONG_REASON
        else:
            reason = f"expected {row.expected_columns} columns, got {row.actual_columns}"
        # Arrow numbers physical lines from the header (line 1): data row = line - 1.
        malformed.append((row.number - 1, reason))
        return "skip"

    read = pacsv.ReadOptions(
        block_size=CSV_BLOCK_BYTES, skip_rows_after_names=skip_rows, encoding="utf8", use_threads=False
    )
    parse = pacsv.ParseOptions(delimiter=source.delimiter, invalid_row_handler=on_invalid_row)
    convert = pacsv.ConvertOptions(
        column_types={name: pa.float64() if typed and name in numeric else pa.string() for name in wanted},
        include_columns=wanted,
        null_values=[""],  # only an empty cell is missing; "NA", "n/a", "null" are bad values to report
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    next_row = skip_rows + 1
    try:
        with BoundedLines(source.path, digest=digest) as stream:
            reader = pacsv.open_csv(stream, read_options=read, parse_options=parse, convert_options=convert)
            for batch in reader:
                table = _with_malformed(pa.Table.from_batches([batch]), malformed, next_row)
                next_row += table.num_rows
                if table.num_rows:
                    yield table
    except pa.ArrowInvalid as exc:
        if typed and "conversion error" in str(exc).lower():
            raise
        raise DatasetError(f"{source.path}: not a valid CSV file: {_data_rows(_arrow_message(exc))}") from None
    except OSError as exc:
        raise DatasetError(f"{source.path}: cannot read: {exc.strerror}") from None
    if malformed:  # bad rows after the last good one: all of them now, so that none is ever lost
        empty = pa.Table.from_batches([], schema=reader.schema)
        yield _with_malformed(empty, malformed, next_row, last=True)


def _with_malformed(
    table: pa.Table, malformed: deque[tuple[int, str]], first_row: int, *, last: bool = False
) -> pa.Table:
    """``table`` (good rows from ``first_row`` on) with the skipped malformed rows put back in place as nulls,
    and :data:`RECORD_ERROR_COLUMN` saying why. Arrow reports rows ahead of the batch holding them, so only the
    ones numbered inside this batch's span are placed now (``last``: every one left, at the end)."""
    import pyarrow as pa

    n = table.num_rows
    if not malformed or (not last and malformed[0][0] >= first_row + n + 1):
        return table.append_column(RECORD_ERROR_COLUMN, pa.nulls(n, pa.string()))
    take: list[int] = []
    reasons: list[str | None] = []
    good = 0
    row = first_row
    while good < n or (malformed and (last or malformed[0][0] == row)):
        if malformed and (malformed[0][0] == row or (last and good == n)):
            take.append(n)  # the null row appended below
            reasons.append(malformed.popleft()[1])
        else:
            take.append(good)
            reasons.append(None)
            good += 1
        row += 1
    nulls = pa.Table.from_arrays([pa.nulls(1, f.type) for f in table.schema], schema=table.schema)
    placed = pa.concat_tables([table, nulls]).take(pa.array(take, pa.int64()))
    return placed.append_column(RECORD_ERROR_COLUMN, pa.array(reasons, pa.string()))


def _parquet_header(path: Path) -> tuple[pa.Schema, int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DatasetError(f"{path}: not a readable Parquet file: {_arrow_message(exc)}") from None
    return meta.schema_arrow, int(meta.metadata.num_rows)


def _row_group_end(meta: pq.FileMetaData, index: int) -> int:
    """Where row group ``index``'s column chunks end in the file (all its columns, read or not)."""
    group = meta.row_group(index)
    ends = []
    for column in range(group.num_columns):
        chunk = group.column(column)
        start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
        ends.append(start + chunk.total_compressed_size)
    return max(ends, default=0)


def _parquet_tables(path: Path, wanted: list[str], skip_rows: int, digest: PrefixDigest | None) -> Iterator[pa.Table]:
    """Row group by row group; ``digest`` is extended over the file up to each group's end before it is read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    to_skip = skip_rows
    file = pq.ParquetFile(path)
    for index in range(file.num_row_groups):
        group_rows = file.metadata.row_group(index).num_rows
        if to_skip >= group_rows:
            to_skip -= group_rows
            continue
        if digest is not None:
            digest.extend_to(_row_group_end(file.metadata, index))
        for batch in file.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=[index], columns=wanted):
            if to_skip >= batch.num_rows:
                to_skip -= batch.num_rows
                continue
            table = pa.Table.from_batches([batch]).slice(to_skip)
            to_skip = 0
            if table.num_rows:
                yield table


def _data_rows(message: str) -> str:
    """Arrow's ``Row #N`` counts the header line (and is absolute, even after skipped rows): say data row N - 1."""
    return re.sub(r"\bRow #(\d+)", lambda m: f"row {int(m.group(1)) - 1}", message)


def _arrow_message(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]
