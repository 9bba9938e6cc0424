"""Chunk sources: the input side of every batch entry point, cut into validated chunks of the size asked for.

The engine calls a source with the number of rows it wants next and gets a :class:`InputChunk` chunk (validated,
JSON text built) or None at the end. :class:`TableChunks` serves Arrow tables (a file's blocks, a pandas frame);
:class:`RecordChunks` serves records one by one (``score_stream``), each checked by the pydantic model.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Final

from bankmarketing_client.batch.engine import InputChunk
from bankmarketing_client.batch.readers import RECORD_ERROR_COLUMN
from bankmarketing_client.batch.validation import CheckedChunk, check_chunk, record_json
from bankmarketing_client.data import FEATURE_COLUMNS
from bankmarketing_client.errors import DatasetError, RecordValidationError, RowError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from bankmarketing_client.contract import Contract

#: The errors file's field for a row that could not be split into the header's columns.
RECORD_FIELD: Final = "(record)"


class TableChunks:
    """Cuts a stream of Arrow tables into chunks of the size asked for, and validates each."""

    def __init__(
        self, tables: Iterator[pa.Table], *, start_row: int, id_column: str | None, allow_unknown: bool
    ) -> None:
        self._tables = tables
        self._pending: list[pa.Table] = []
        self._buffered = 0
        self._row = start_row
        self._id_column = id_column
        self._allow_unknown = allow_unknown

    def _take(self, n: int) -> pa.Table | None:
        import pyarrow as pa

        while self._buffered < n:
            table = next(self._tables, None)
            if table is None:
                break
            self._pending.append(table)
            self._buffered += table.num_rows
        if not self._buffered:
            return None
        whole = pa.concat_tables(self._pending) if len(self._pending) > 1 else self._pending[0]
        taken = whole.slice(0, n)
        rest = whole.slice(taken.num_rows)
        self._pending = [rest] if rest.num_rows else []
        self._buffered = rest.num_rows
        return taken

    async def __call__(self, max_rows: int, contract: Contract | None = None) -> InputChunk | None:
        table = self._take(max_rows)
        if table is None:
            return None
        checked = check_chunk(table, self._row, allow_unknown_categories=self._allow_unknown, contract=contract)
        if RECORD_ERROR_COLUMN in table.column_names and table.column(RECORD_ERROR_COLUMN).null_count < len(table):
            checked = _reject_malformed(checked, table.column(RECORD_ERROR_COLUMN).to_pylist())
        self._row += table.num_rows
        ids = table.column(self._id_column).combine_chunks() if self._id_column else None
        return InputChunk(checked, ids)


def _reject_malformed(checked: CheckedChunk, reasons: list[str | None]) -> CheckedChunk:
    """Rows the reader could not split into columns: rejected with one error saying so, not one per empty field."""
    import numpy as np
    import pyarrow as pa

    bad = np.array([reason is not None for reason in reasons])
    valid = checked.valid & ~bad
    records = checked.records_json
    if not np.array_equal(valid, checked.valid):  # only if a row of nulls ever passed validation
        records = records.filter(pa.array(~bad[checked.valid]))
    rows = {checked.start_row + offset: reason for offset, reason in enumerate(reasons) if reason is not None}
    errors = [e for e in checked.errors if e.row not in rows]
    errors += [RowError(row, RECORD_FIELD, reason) for row, reason in rows.items()]
    errors.sort(key=lambda e: e.row)
    return CheckedChunk(checked.start_row, checked.num_rows, valid, records, errors)


class RecordChunks:
    """Chunks from records (mappings or :class:`BankMarketingRecord`), each validated by the pydantic model."""

    def __init__(self, records: AsyncIterator[Any], *, allow_unknown: bool) -> None:
        self._records = records
        self._row = 1
        self._allow_unknown = allow_unknown
        self._done = False

    async def __call__(self, max_rows: int, contract: Contract | None = None) -> InputChunk | None:
        import numpy as np
        import pyarrow as pa

        rows: list[Any] = []
        while not self._done and len(rows) < max_rows:
            try:
                rows.append(await anext(self._records))
            except StopAsyncIteration:
                self._done = True
        if not rows:
            return None
        valid = np.ones(len(rows), dtype=bool)
        errors: list[RowError] = []
        texts: list[str] = []
        for offset, row in enumerate(rows):
            try:
                texts.append(record_json(row, self._row + offset, self._allow_unknown, contract))
            except RecordValidationError as exc:
                valid[offset] = False
                errors.extend(exc.errors)
        checked = CheckedChunk(self._row, len(rows), valid, pa.array(texts, pa.string()), errors)
        self._row += len(rows)
        return InputChunk(checked)


async def aiter_records(records: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Any]:
    """Records from a plain or an async iterable, as one async iterator."""
    if isinstance(records, AsyncIterable):
        async for record in records:
            yield record
    else:
        for record in records:
            yield record


def frame_table(frame: pd.DataFrame) -> pa.Table:
    """The frame's feature columns as Arrow arrays; a column of mixed types becomes text, judged row by row."""
    import pyarrow as pa

    missing = [c for c in FEATURE_COLUMNS if c not in frame.columns]
    if missing:
        raise DatasetError(f"the frame is missing column(s) {', '.join(missing)}")
    arrays = []
    for name in FEATURE_COLUMNS:
        column = frame[name]
        try:
            arrays.append(pa.array(column, from_pandas=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: judge them as text, row by row
            arrays.append(pa.array([None if v is None else str(v) for v in column.tolist()], pa.string()))
    return pa.Table.from_arrays(arrays, names=list(FEATURE_COLUMNS))
