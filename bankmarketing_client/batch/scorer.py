"""Batch scoring entry points: ``score_file`` (CSV/Parquet to CSV/Parquet), ``score_frame`` (pandas) and
``score_stream`` (an async iterator of records in, results out in order).

All three feed the same pipeline (:mod:`.engine`): chunks validated column-wise (:mod:`.validation`), sent at the
batch size and concurrency the tuner finds (:mod:`.tuner`), answers put back in input order. ``score_file`` adds
streaming input (:mod:`.readers`), spooled output renamed into place at the end (:mod:`.writers`) and
checkpoints for ``resume`` (:mod:`.checkpoint`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Coroutine, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from bankmarketing_client.batch.checkpoint import Checkpoint, checkpoint_path, fingerprint
from bankmarketing_client.batch.engine import FailFast, Prepared, ScoredChunk, Sender, scored_chunks
from bankmarketing_client.batch.lock import output_lock
from bankmarketing_client.batch.progress import BatchSummary, Progress
from bankmarketing_client.batch.readers import RECORD_ERROR_COLUMN, Format, InputFile, open_input
from bankmarketing_client.batch.tuner import Tuner, TunerSettings
from bankmarketing_client.batch.validation import CheckedChunk, check_chunk, record_json
from bankmarketing_client.batch.writers import (
    ERROR_COLUMNS,
    AppendFile,
    check_writable,
    csv_header,
    errors_to_csv,
    finish_output,
    output_format,
    replace_atomically,
    spool_path,
    table_to_csv,
)
from bankmarketing_client.data import FEATURE_COLUMNS
from bankmarketing_client.errors import (
    BankMarketingError,
    ConfigurationError,
    DatasetError,
    RecordValidationError,
    RowError,
)

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from bankmarketing_client.auth import Secret
    from bankmarketing_client.client import AsyncScoringClient
    from bankmarketing_client.contract import Contract

logger = logging.getLogger("bankmarketing_client.batch")

CHECKPOINT_SECONDS = 1.0
ROW_COLUMN = "row"
#: The errors file's field for a row that could not be split into the header's columns.
RECORD_FIELD = "(record)"
PREDICTION_COLUMN = "prediction"
PROBABILITY_COLUMN = "probability"
T = TypeVar("T")


class Interrupted(BankMarketingError):
    """The run stopped before the end (Ctrl-C, SIGTERM or a fatal endpoint error); progress is saved."""


@dataclass(frozen=True)
class Connection:
    """Where and how to send: built into an :class:`AsyncScoringClient` unless one is given."""

    scoring_uri: str | None = None
    api_key: str | Secret | None = None
    contract: str | Contract | None = None
    client: AsyncScoringClient | None = None


@dataclass(frozen=True)
class ScoredRow:
    """One row from :func:`score_stream`: its 1-based number, the label (None if refused) and why not."""

    row: int
    label: str | None
    probability: float | None
    errors: tuple[RowError, ...] = ()


def _run_sync(name: str, start: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``name``'s coroutine from synchronous code; inside a running event loop, say which one to await."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(start())
    raise ConfigurationError(f"{name} was called inside a running event loop; use await {name}_async(...)")


@contextlib.asynccontextmanager
async def _connect(conn: Connection, proba: bool | None, tuner: Tuner) -> AsyncIterator[Sender]:
    from bankmarketing_client.client import AsyncScoringClient, Timeouts
    from bankmarketing_client.retry import RetryPolicy

    owned = conn.client is None
    client = conn.client or AsyncScoringClient(
        conn.scoring_uri,
        conn.api_key,
        contract=conn.contract,
        # One attempt per call: the batch engine retries itself, so that 429/408 reach the tuner.
        retry=RetryPolicy(max_attempts=1, deadline=None),
        timeouts=Timeouts(connect=10.0, read=120.0, total=None),
        # A manual concurrency above the tuner's own limit is the user's call: the client must not cap it.
        max_concurrency=max(tuner.settings.max_concurrency, tuner.settings.concurrency or 0),
    )
    try:
        contract = await client.detect_contract()
        use_proba = contract.supports_proba if proba is None else proba
        if use_proba and not contract.supports_proba:
            raise ConfigurationError(
                f"the endpoint's {contract.family!r} contract offers no probabilities; drop --proba"
            )
        yield Sender(client, contract, proba=use_proba, tuner=tuner)
    finally:
        if owned:
            await client.aclose()


# -- chunk sources ---------------------------------------------------------------------------------------------


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

    async def __call__(self, max_rows: int) -> Prepared | None:
        table = self._take(max_rows)
        if table is None:
            return None
        checked = check_chunk(table, self._row, allow_unknown_categories=self._allow_unknown)
        if RECORD_ERROR_COLUMN in table.column_names and table.column(RECORD_ERROR_COLUMN).null_count < len(table):
            checked = _reject_malformed(checked, table.column(RECORD_ERROR_COLUMN).to_pylist())
        self._row += table.num_rows
        ids = table.column(self._id_column).combine_chunks() if self._id_column else None
        return Prepared(checked, ids)


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

    async def __call__(self, max_rows: int) -> Prepared | None:
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
                texts.append(record_json(row, self._row + offset, self._allow_unknown))
            except RecordValidationError as exc:
                valid[offset] = False
                errors.extend(exc.errors)
        checked = CheckedChunk(self._row, len(rows), valid, pa.array(texts, pa.string()), errors)
        self._row += len(rows)
        return Prepared(checked)


async def _aiter(records: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Any]:
    if isinstance(records, AsyncIterable):
        async for record in records:
            yield record
    else:
        for record in records:
            yield record


# -- score_stream ----------------------------------------------------------------------------------------------


async def score_stream(
    records: Iterable[Mapping[str, object]] | AsyncIterable[Mapping[str, object]],
    *,
    scoring_uri: str | None = None,
    api_key: str | Secret | None = None,
    contract: str | Contract | None = None,
    client: AsyncScoringClient | None = None,
    proba: bool | None = None,
    batch_size: int | None = None,
    concurrency: int | None = None,
    allow_unknown_categories: bool = False,
) -> AsyncIterator[ScoredRow]:
    """Score records as they come, yielding one :class:`ScoredRow` per record in input order.

    Records that fail validation are yielded with ``label=None`` and their errors, never sent.
    """
    tuner = Tuner(TunerSettings(batch_size=batch_size, concurrency=concurrency))
    conn = Connection(scoring_uri, api_key, contract, client)
    source = RecordChunks(_aiter(records), allow_unknown=allow_unknown_categories)
    async with _connect(conn, proba, tuner) as sender:
        async for chunk in scored_chunks(source, sender):
            by_row: dict[int, list[RowError]] = {}
            for error in chunk.errors:
                by_row.setdefault(error.row, []).append(error)
            for offset in range(chunk.num_rows):
                row = chunk.start_row + offset
                p = float(chunk.probabilities[offset])
                yield ScoredRow(row, chunk.labels[offset], None if math.isnan(p) else p, tuple(by_row.get(row, ())))


# -- score_frame -----------------------------------------------------------------------------------------------


def _frame_table(frame: pd.DataFrame) -> pa.Table:
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


async def score_frame_async(
    frame: pd.DataFrame,
    *,
    scoring_uri: str | None = None,
    api_key: str | Secret | None = None,
    contract: str | Contract | None = None,
    client: AsyncScoringClient | None = None,
    proba: bool | None = None,
    batch_size: int | None = None,
    concurrency: int | None = None,
    allow_unknown_categories: bool = False,
) -> pd.DataFrame:
    """As :func:`score_frame`, inside a running event loop."""
    import numpy as np

    table = _frame_table(frame)
    tuner = Tuner(TunerSettings(batch_size=batch_size, concurrency=concurrency))
    conn = Connection(scoring_uri, api_key, contract, client)
    labels: list[str | None] = []
    probabilities: list[Any] = []
    reasons: list[str | None] = [None] * len(frame)
    source = TableChunks(iter([table]), start_row=1, id_column=None, allow_unknown=allow_unknown_categories)
    async with _connect(conn, proba, tuner) as sender:
        async for chunk in scored_chunks(source, sender):
            labels += chunk.labels
            probabilities.append(chunk.probabilities)
            for error in chunk.errors:
                previous = reasons[error.row - 1]
                text = f"{error.field}: {error.reason}"
                reasons[error.row - 1] = text if previous is None else previous + "; " + text
        result = frame.copy()
        result[PREDICTION_COLUMN] = labels
        if sender.proba:
            result[PROBABILITY_COLUMN] = np.concatenate(probabilities) if probabilities else []
        result["error"] = reasons
    return result


def score_frame(frame: pd.DataFrame, **kwargs: Any) -> pd.DataFrame:
    """A copy of ``frame`` with ``prediction`` (``probability`` on ``inputs`` endpoints) and ``error`` columns.

    Rows that fail validation are not sent: their prediction is None and ``error`` says which field and why.
    Keywords as :func:`score_frame_async`.
    """
    return _run_sync("score_frame", lambda: score_frame_async(frame, **kwargs))


# -- score_file ------------------------------------------------------------------------------------------------


def _check_distinct(input: Path, output: Path, errors: Path) -> None:
    if input.resolve() in (output.resolve(), errors.resolve()) or output.resolve() == errors.resolve():
        raise ConfigurationError("the input, output and errors files must be three different files")


def default_errors_path(output: Path) -> Path:
    return output.with_name(output.stem + ".errors.csv")


def _output_schema(source: InputFile, proba: bool) -> pa.Schema:
    import pyarrow as pa

    fields = []
    if source.id_column:
        fields.append(pa.field(source.id_column, source.id_type or pa.string()))
    fields += [pa.field(ROW_COLUMN, pa.int64()), pa.field(PREDICTION_COLUMN, pa.string())]
    if proba:
        fields.append(pa.field(PROBABILITY_COLUMN, pa.float64()))
    return pa.schema(fields)


def _chunk_table(chunk: ScoredChunk, schema: pa.Schema, id_column: str | None) -> pa.Table:
    import numpy as np
    import pyarrow as pa

    arrays: list[pa.Array] = []
    if id_column is not None and chunk.ids is not None:
        arrays.append(chunk.ids.cast(schema.field(id_column).type))
    arrays.append(pa.array(np.arange(chunk.start_row, chunk.start_row + chunk.num_rows, dtype=np.int64)))
    arrays.append(pa.array(chunk.labels, pa.string()))
    if PROBABILITY_COLUMN in schema.names:
        arrays.append(pa.array(chunk.probabilities, pa.float64(), from_pandas=True))  # NaN -> null
    return pa.Table.from_arrays(arrays, schema=schema)


def _layout(schema: pa.Schema, output: Path, errors: Path, family: str, allow_unknown: bool) -> dict[str, Any]:
    """What a checkpoint must agree on to be resumed: the output's shape and where the errors go."""
    return {
        "columns": schema.names,
        "output_format": output_format(output),
        "errors": str(errors.resolve()),
        "contract": family,
        "allow_unknown_categories": allow_unknown,
    }


class _Written(NamedTuple):
    """What is completely written: replaced as one object, so a signal never sees half of an update."""

    rows: int
    scored: int
    rejected: int
    failed: int
    output_bytes: int
    errors_bytes: int


class _FileRun:
    """The state of one ``score_file`` run: spools, checkpoint and counters."""

    def __init__(self, output: Path, errors: Path, ck: Checkpoint, ck_path: Path, schema: pa.Schema, resume: bool):
        self.output = output
        self.errors = errors
        self.ck = ck
        self.ck_path = ck_path
        self.schema = schema
        self.spool = AppendFile(
            spool_path(output), length=ck.output_bytes if resume else None, header=csv_header(schema.names)
        )
        self.error_spool = AppendFile(
            spool_path(errors), length=ck.errors_bytes if resume else None, header=csv_header(list(ERROR_COLUMNS))
        )
        self.written = _Written(
            ck.rows_done, ck.scored, ck.rejected, ck.failed, self.spool.tell(), self.error_spool.tell()
        )
        self._last_save = time.monotonic()

    def write(self, chunk: ScoredChunk, id_column: str | None) -> None:
        """Append one chunk's results. Only the last statement makes them count: a second Ctrl-C raising
        KeyboardInterrupt half-way leaves ``written`` as it was, and the extra bytes are cut on resume."""
        self.spool.write(table_to_csv(_chunk_table(chunk, self.schema, id_column)))
        if chunk.errors:
            self.error_spool.write(errors_to_csv(chunk.errors))
        w = self.written
        self.written = _Written(
            w.rows + chunk.num_rows,
            w.scored + chunk.scored,
            w.rejected + chunk.rejected,
            w.failed + chunk.failed,
            self.spool.tell(),
            self.error_spool.tell(),
        )

    def save(self, *, force: bool = False) -> None:
        """fsync the spools, then record what they hold for certain (bytes past it are cut on resume)."""
        now = time.monotonic()
        if not force and now - self._last_save < CHECKPOINT_SECONDS:
            return
        self._last_save = now
        w = self.written
        self.spool.sync()
        self.error_spool.sync()
        ck = self.ck
        ck.rows_done, ck.scored, ck.rejected, ck.failed = w.rows, w.scored, w.rejected, w.failed
        ck.output_bytes, ck.errors_bytes = w.output_bytes, w.errors_bytes
        ck.save(self.ck_path)

    def close(self) -> None:
        self.spool.close()
        self.error_spool.close()

    def discard(self) -> None:
        """Close and delete the spools and the checkpoint: for a run that cannot be resumed."""
        self.close()
        for path in (self.spool.path, self.error_spool.path, self.ck_path):
            path.unlink(missing_ok=True)


async def score_file_async(
    input: str | Path,
    output: str | Path,
    *,
    errors: str | Path | None = None,
    scoring_uri: str | None = None,
    api_key: str | Secret | None = None,
    contract: str | Contract | None = None,
    client: AsyncScoringClient | None = None,
    proba: bool | None = None,
    batch_size: int | None = None,
    concurrency: int | None = None,
    fail_fast: bool = False,
    resume: bool = False,
    id_column: str | None = None,
    input_format: Format | None = None,
    delimiter: str | None = None,
    allow_unknown_categories: bool = False,
    progress: Progress | None = None,
) -> BatchSummary:
    """As :func:`score_file`, inside a running event loop."""
    started = time.monotonic()
    output = Path(output)
    errors_path = Path(errors) if errors is not None else default_errors_path(output)
    # Everything a user can get wrong is refused here, before a file is made or a row sent.
    _check_distinct(Path(input), output, errors_path)
    check_writable(output, "output")
    check_writable(errors_path, "errors file")
    source = open_input(
        input,
        format=input_format,
        delimiter=delimiter,
        id_column=id_column,
        count_rows=bool(progress and progress.enabled),
    )
    with output_lock(output), output_lock(errors_path):
        return await _score_locked(
            source,
            output,
            errors_path,
            errors_given=errors is not None,
            conn=Connection(scoring_uri, api_key, contract, client),
            tuner=Tuner(TunerSettings(batch_size=batch_size, concurrency=concurrency)),
            proba=proba,
            fail_fast=fail_fast,
            resume=resume,
            allow_unknown_categories=allow_unknown_categories,
            progress=progress,
            started=started,
        )


async def _score_locked(
    source: InputFile,
    output: Path,
    errors_path: Path,
    *,
    errors_given: bool,
    conn: Connection,
    tuner: Tuner,
    proba: bool | None,
    fail_fast: bool,
    resume: bool,
    allow_unknown_categories: bool,
    progress: Progress | None,
    started: float,
) -> BatchSummary:
    """The run itself, while this process holds the output's (and errors file's) lock."""
    ck_path = checkpoint_path(output)
    async with _connect(conn, proba, tuner) as sender:
        schema = _output_schema(source, sender.proba)
        layout = _layout(schema, output, errors_path, sender.contract.family, allow_unknown_categories)
        input_print = fingerprint(source.path)
        previous = Checkpoint.load(ck_path) if resume else None
        if previous is not None:
            why = previous.matches(input_print, layout)
            if why is not None:
                raise ConfigurationError(f"cannot resume from {ck_path}: {why}; run without --resume to start over")
            if not spool_path(output).is_file() or not spool_path(errors_path).is_file():
                raise ConfigurationError(
                    f"cannot resume: the partial output beside {output} is gone; run without --resume"
                )
            ck = previous
        else:
            if resume:
                logger.warning("nothing to resume for %s: starting from the first row", output)
            elif ck_path.is_file():
                logger.warning("an interrupted run of %s is discarded: starting over (--resume continues one)", output)
            ck_path.unlink(missing_ok=True)
            ck = Checkpoint(input_print, layout)
        run = _FileRun(output, errors_path, ck, ck_path, schema, resume=previous is not None)
        resumed_rows = ck.rows_done
        retries_before = ck.retries
        elapsed_before = ck.elapsed
        if progress is not None:
            progress.total = source.total_rows
            progress.start(ck.rows_done)
        chunks = TableChunks(
            source.iter_tables(skip_rows=ck.rows_done),
            start_row=ck.rows_done + 1,
            id_column=source.id_column,
            allow_unknown=allow_unknown_categories,
        )
        if previous is None:
            run.save(force=True)
        stopped: FailFast | None = None
        try:
            async for chunk in scored_chunks(chunks, sender, fail_fast=fail_fast):
                run.write(chunk, source.id_column)
                ck.retries = retries_before + sender.retries
                ck.elapsed = elapsed_before + time.monotonic() - started
                run.save()
                if progress is not None:
                    progress.advance(chunk.num_rows)
        except FailFast as exc:
            stopped = exc
        except (Exception, asyncio.CancelledError, KeyboardInterrupt) as exc:
            ck.retries = retries_before + sender.retries
            ck.elapsed = elapsed_before + time.monotonic() - started
            if isinstance(exc, DatasetError):  # a problem in the input file: --resume would meet it again,
                run.discard()  # so the progress is worth nothing: leave no spool or checkpoint behind
            else:
                run.save(force=True)
                run.close()
            if progress is not None:
                progress.close()
            if isinstance(exc, DatasetError):
                raise
            if isinstance(exc, BankMarketingError):
                raise Interrupted(
                    f"{exc}. Stopped after {ck.rows_done:,} rows; the progress is saved: "
                    "run the same command with --resume to continue"
                ) from exc
            raise
        if progress is not None:
            progress.close()
        summary = BatchSummary(
            retries=retries_before + sender.retries,
            resumed_rows=resumed_rows,
            batch_size=tuner.batch_size,
            concurrency=tuner.tuned_concurrency,
        )
    summary.elapsed = elapsed_before + time.monotonic() - started
    if stopped is not None:
        run.close()
        first = min(e.row for e in stopped.errors)
        first_errors = [e for e in stopped.errors if e.row == first]
        staging = spool_path(errors_path)
        staging.write_bytes(csv_header(list(ERROR_COLUMNS)) + errors_to_csv(first_errors))
        replace_atomically(staging, errors_path)
        spool_path(output).unlink(missing_ok=True)
        ck_path.unlink(missing_ok=True)
        summary.rows = first - 1
        summary.rejected = 1
        summary.errors_path = errors_path
        summary.stopped_early = True
        return summary
    run.save(force=True)
    run.close()
    finish_output(spool_path(output), output, schema)
    if ck.rejected or ck.failed or errors_given:
        replace_atomically(spool_path(errors_path), errors_path)
        summary.errors_path = errors_path
    else:
        spool_path(errors_path).unlink(missing_ok=True)
    ck_path.unlink(missing_ok=True)
    summary.rows, summary.scored, summary.rejected, summary.failed = ck.rows_done, ck.scored, ck.rejected, ck.failed
    summary.output = output
    return summary


def score_file(input: str | Path, output: str | Path, **kwargs: Any) -> BatchSummary:
    """Score a CSV or Parquet file into ``output`` (CSV or Parquet, by suffix); one output row per input row.

    Output columns: the input's id column if it has one, ``row`` (1-based), ``prediction`` and, when the endpoint
    offers ``predict_proba``, ``probability`` (of ``"yes"``). Rows that fail validation are not sent; their
    prediction is empty and the errors file (``errors=``, default ``<output stem>.errors.csv``) says row, field
    and reason. ``resume=True`` continues an interrupted run. Keywords as :func:`score_file_async`.
    """
    return _run_sync("score_file", lambda: score_file_async(input, output, **kwargs))


__all__ = [
    "BatchSummary",
    "Interrupted",
    "ScoredRow",
    "score_file",
    "score_file_async",
    "score_frame",
    "score_frame_async",
    "score_stream",
]
