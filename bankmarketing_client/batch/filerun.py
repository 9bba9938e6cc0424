"""``score_file``: a CSV or Parquet file scored into another, resumable, every row exactly once.

On top of the pipeline the in-memory entry points share (:mod:`.sources`, :mod:`.engine`), a file run adds
streaming input (:mod:`.readers`), spooled output renamed into place at the end (:mod:`.writers`), checkpoints
for ``resume`` (:mod:`.checkpoint`) and one run per output at a time (:mod:`.lock`). :class:`_FileRun` holds one
run's state; :func:`score_file_async` only checks the paths, takes the locks and drives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from bankmarketing_client.batch.checkpoint import Checkpoint, Written, checkpoint_path, fingerprint
from bankmarketing_client.batch.engine import FailFast, ScoredChunk, Sender, scored_chunks
from bankmarketing_client.batch.lock import output_lock
from bankmarketing_client.batch.prefix import PrefixDigest
from bankmarketing_client.batch.progress import Progress
from bankmarketing_client.batch.readers import Format, InputFile, open_input
from bankmarketing_client.batch.scorer import PREDICTION_COLUMN, PROBABILITY_COLUMN, check_deployment_column
from bankmarketing_client.batch.session import EndpointSettings, connect, run_sync
from bankmarketing_client.batch.sources import TableChunks
from bankmarketing_client.batch.summary import BatchSummary, RowCounts
from bankmarketing_client.batch.tuner import Tuner, tuner_settings
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
    verify_spool,
    verify_spool_rows,
)
from bankmarketing_client.errors import (
    APIError,
    BankMarketingError,
    ConfigurationError,
    DatasetError,
    DiskFullError,
    RunStopped,
)

if TYPE_CHECKING:
    from hashlib import _Hash

    import pyarrow as pa

    from bankmarketing_client.answers import AnswerLimits
    from bankmarketing_client.auth import Secret, TokenProvider
    from bankmarketing_client.client import AsyncScoringClient
    from bankmarketing_client.contract import Contract
    from bankmarketing_client.limits import EndpointLimits

logger = logging.getLogger("bankmarketing_client.batch")

CHECKPOINT_SECONDS: Final = 1.0
ROW_COLUMN: Final = "row"


def default_errors_path(output: Path) -> Path:
    return output.with_name(output.stem + ".errors.csv")


@dataclass(frozen=True)
class _Targets:
    """Where a run writes: the output and the errors file (``errors_given``: kept even when it lists nothing)."""

    output: Path
    errors: Path
    errors_given: bool

    @classmethod
    def checked(cls, input: Path, output: Path, errors: Path | None) -> _Targets:
        """The targets, after refusing (before a file is made or a row sent) what a user can get wrong."""
        targets = cls(output, errors if errors is not None else default_errors_path(output), errors is not None)
        resolved = {input.resolve(), output.resolve(), targets.errors.resolve()}
        if len(resolved) < 3:
            raise ConfigurationError("the input, output and errors files must be three different files")
        check_writable(output, "output")
        check_writable(targets.errors, "errors file")
        return targets


def _output_schema(source: InputFile, proba: bool, deployment_column: str | None) -> pa.Schema:
    """The output's columns; a ``deployment_column`` that would take another column's name is refused."""
    import pyarrow as pa

    fields = []
    if source.id_column:
        fields.append(pa.field(source.id_column, source.id_type or pa.string()))
    fields += [pa.field(ROW_COLUMN, pa.int64()), pa.field(PREDICTION_COLUMN, pa.string())]
    if proba:
        fields.append(pa.field(PROBABILITY_COLUMN, pa.float64()))
    if deployment_column is not None:
        check_deployment_column(deployment_column, [f.name for f in fields])
        fields.append(pa.field(deployment_column, pa.string()))
    return pa.schema(fields)


def _chunk_table(
    chunk: ScoredChunk, schema: pa.Schema, id_column: str | None, deployment_column: str | None
) -> pa.Table:
    import numpy as np
    import pyarrow as pa

    arrays: list[pa.Array] = []
    if id_column is not None and chunk.ids is not None:
        arrays.append(chunk.ids.cast(schema.field(id_column).type))
    arrays.append(pa.array(np.arange(chunk.start_row, chunk.start_row + chunk.num_rows, dtype=np.int64)))
    arrays.append(pa.array(chunk.labels, pa.string()))
    if PROBABILITY_COLUMN in schema.names:
        arrays.append(pa.array(chunk.probabilities, pa.float64(), from_pandas=True))  # NaN -> null
    if deployment_column is not None:
        arrays.append(pa.array(chunk.deployments, pa.string()))
    return pa.Table.from_arrays(arrays, schema=schema)


def _layout(schema: pa.Schema, targets: _Targets, contract_family: str, allow_unknown: bool) -> dict[str, Any]:
    """What a checkpoint must agree on to be resumed: the output's shape and where the errors go."""
    return {
        "columns": schema.names,
        "output_format": output_format(targets.output),
        "errors": str(targets.errors.resolve()),
        "contract_family": contract_family,
        "allow_unknown_categories": allow_unknown,
    }


@dataclass(frozen=True)
class _Resumable:
    """An interrupted run checked against the files it describes: its checkpoint, the running digests of the two
    spools' committed prefixes and of the input's part already read."""

    checkpoint: Checkpoint
    output_digest: _Hash
    errors_digest: _Hash
    consumed: PrefixDigest


def _resumable(targets: _Targets, source: InputFile, input_print: dict[str, Any]) -> _Resumable | None:
    """What ``--resume`` continues from (None: there is nothing to resume), or a one-line refusal saying why not.

    Read only, before any request: the checkpoint's fields, the input's identity and the part of it already
    read, and each spool's committed prefix (length, digest, and for the output the row numbers it holds)."""
    ck_path = checkpoint_path(targets.output)
    previous = Checkpoint.load(ck_path)
    if previous is None:
        logger.warning("nothing to resume for %s: starting from the first row", targets.output)
        return None
    if previous.input != input_print:
        raise ConfigurationError(
            f"cannot resume from {ck_path}: the input file changed since the interrupted run; "
            "run without --resume to start over"
        )
    output, errors = spool_path(targets.output), spool_path(targets.errors)
    if not output.is_file() or not errors.is_file():
        raise ConfigurationError(
            f"cannot resume: the partial output beside {targets.output} is gone; run without --resume"
        )
    written = previous.written
    output_digest = verify_spool(output, written.output)
    verify_spool_rows(output, written.output_bytes, written.counts.rows)
    errors_digest = verify_spool(errors, written.errors)
    consumed = PrefixDigest.resumed(source.path, previous.consumed)
    if consumed is None:
        raise ConfigurationError(
            f"cannot resume from {ck_path}: the input file changed since the interrupted run (in its first "
            f"{previous.consumed.length:,} bytes, which it had read); run without --resume to start over"
        )
    return _Resumable(previous, output_digest, errors_digest, consumed)


#: Errors of a write that more free space would have let through.
_NO_SPACE: Final = (errno.ENOSPC, errno.EDQUOT)


def _no_space(exc: BaseException, output: Path) -> DiskFullError | None:
    """The one-line error for a write that ran out of space (None for any other error)."""
    if not isinstance(exc, OSError) or exc.errno not in _NO_SPACE:
        return None
    where = exc.filename if exc.filename is not None else f"beside {output}"
    return DiskFullError(f"no space left on device writing {where}; free space and continue with --resume")


@contextlib.contextmanager
def _no_space_is_one_line(output: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        full = _no_space(exc, output)
        if full is None:
            raise
        raise full from None


class _FileRun:
    """One ``score_file`` run: its spools, its checkpoint and what is completely written.

    The rule that makes a resumed run exactly-once lives in :meth:`write` and :meth:`save`: results are appended,
    ``written`` is replaced only after a whole chunk is in the spools, and a checkpoint records ``written`` only
    after the spools are fsync'ed.
    """

    def __init__(
        self,
        source: InputFile,
        targets: _Targets,
        sender: Sender,
        *,
        input_print: dict[str, Any],
        resume: _Resumable | None,
        allow_unknown: bool,
        deployment_column: str | None = None,
    ):
        self.source = source
        self.targets = targets
        self.allow_unknown = allow_unknown
        self.deployment_column = deployment_column
        self.schema = _output_schema(source, sender.proba, deployment_column)
        self.ck_path = checkpoint_path(targets.output)
        layout = _layout(self.schema, targets, sender.contract.family, allow_unknown)
        previous = resume.checkpoint if resume is not None else None
        if previous is not None:
            why = previous.matches(input_print, layout)
            if why is not None:
                raise ConfigurationError(
                    f"cannot resume from {self.ck_path}: {why}; run without --resume to start over"
                )
        elif self.ck_path.is_file():
            logger.warning(
                "an interrupted run of %s is discarded: starting over (--resume continues one)", targets.output
            )
        self.ck = previous or Checkpoint(input_print, layout)
        written = self.ck.written
        self.consumed = resume.consumed if resume is not None else PrefixDigest(source.path)
        self.spool = AppendFile(
            spool_path(targets.output),
            header=csv_header(self.schema.names),
            resume=(written.output_bytes, resume.output_digest) if resume is not None else None,
        )
        self.error_spool = AppendFile(
            spool_path(targets.errors),
            header=csv_header(list(ERROR_COLUMNS)),
            resume=(written.errors_bytes, resume.errors_digest) if resume is not None else None,
        )
        self.written = Written(written.counts).plus(RowCounts(), self.spool.prefix(), self.error_spool.prefix())
        self.resumed_rows = self.ck.rows_done
        self._retries_before = self.ck.retries
        self._elapsed_before = self.ck.elapsed
        self._last_save = time.monotonic()
        if previous is None:
            self.ck_path.unlink(missing_ok=True)
            self.save(force=True)

    def chunks(self) -> TableChunks:
        """The input from the first row not yet written."""
        done = self.ck.rows_done
        return TableChunks(
            self.source.iter_tables(skip_rows=done, digest=self.consumed),
            start_row=done + 1,
            id_column=self.source.id_column,
            allow_unknown=self.allow_unknown,
        )

    def write(self, chunk: ScoredChunk) -> None:
        """Append one chunk's results. Only the last statement makes them count: a second Ctrl-C raising
        KeyboardInterrupt half-way leaves ``written`` as it was, and the extra bytes are cut on resume."""
        table = _chunk_table(chunk, self.schema, self.source.id_column, self.deployment_column)
        self.spool.write(table_to_csv(table))
        if chunk.errors:
            self.error_spool.write(errors_to_csv(chunk.errors))
        self.written = self.written.plus(chunk.counts, self.spool.prefix(), self.error_spool.prefix())

    def retries(self, sender: Sender) -> int:
        """Retries so far, this run's added to those of the earlier runs it resumes."""
        return self._retries_before + sender.retries

    def elapsed(self, started: float) -> float:
        """Seconds so far, this run's (since ``started``) added to those of the earlier runs it resumes."""
        return self._elapsed_before + time.monotonic() - started

    def note_time(self, sender: Sender, started: float) -> None:
        self.ck.retries = self.retries(sender)
        self.ck.elapsed = self.elapsed(started)

    def save(self, *, force: bool = False) -> None:
        """fsync the spools, then record what they hold for certain (bytes past it are cut on resume), and the part
        of the input read so far (taken after ``written``: it holds at least the rows counted there)."""
        now = time.monotonic()
        if not force and now - self._last_save < CHECKPOINT_SECONDS:
            return
        self._last_save = now
        written = self.written
        consumed = self.consumed.mark()
        self.spool.sync()
        self.error_spool.sync()
        self.ck.written = written
        self.ck.consumed = consumed
        self.ck.save(self.ck_path)

    async def score(self, sender: Sender, *, fail_fast: bool, progress: Progress | None, started: float) -> None:
        """Score the rest of the input into the spools. On a stop, the progress is saved (``--resume`` goes on)
        unless the input itself is at fault; an endpoint's error comes out as :class:`RunStopped`."""
        if progress is not None:
            progress.total = self.source.total_rows
            progress.start(self.ck.rows_done)
        try:
            async for chunk in scored_chunks(self.chunks(), sender, fail_fast=fail_fast):
                self.write(chunk)
                self.note_time(sender, started)
                self.save()
                if progress is not None:
                    progress.advance(chunk.num_rows)
        except FailFast:
            raise
        except (Exception, asyncio.CancelledError, KeyboardInterrupt) as exc:
            self.note_time(sender, started)
            if isinstance(exc, DatasetError) or self._unknown_deployment(exc, sender):
                # A problem in the input file, or a deployment that is not there before any row was written:
                # --resume would meet it again, so the progress is worth nothing: leave no spool or checkpoint.
                self.discard()
                raise
            full = _no_space(exc, self.targets.output)
            try:
                self.save(force=True)
            except OSError as again:
                # Out of space again: the checkpoint on disk stays as it was, true for the bytes synced before it
                # (what came after is cut on resume). Anything else is a failure of its own, reported as such.
                full = full or _no_space(again, self.targets.output)
                if full is None:
                    raise
            self.close(abandon=full is not None)
            if full is not None:
                raise full from None
            if isinstance(exc, BankMarketingError):
                raise RunStopped(
                    f"{exc}. Stopped after {self.ck.rows_done:,} rows; the progress is saved: "
                    "run the same command with --resume to continue",
                    exc,
                ) from exc
            raise
        finally:
            if progress is not None:
                progress.close()

    def _unknown_deployment(self, exc: BaseException, sender: Sender) -> bool:
        """A 404 to the run's first requests that name a deployment: Azure's answer for a name it does not know."""
        asked = sender.client.deployment is not None
        return asked and isinstance(exc, APIError) and exc.status == 404 and self.written.counts.rows == 0

    def stop_at(self, stopped: FailFast, summary: BatchSummary) -> None:
        """``--fail-fast`` met a bad row: the errors file holds its errors, and no output or checkpoint is left."""
        self.close()
        first = min(e.row for e in stopped.errors)
        staging = spool_path(self.targets.errors)
        staging.write_bytes(
            csv_header(list(ERROR_COLUMNS)) + errors_to_csv([e for e in stopped.errors if e.row == first])
        )
        replace_atomically(staging, self.targets.errors)
        spool_path(self.targets.output).unlink(missing_ok=True)
        self.ck_path.unlink(missing_ok=True)
        summary.counts = RowCounts(rows=first - 1, rejected=1)
        summary.errors_path = self.targets.errors
        summary.stopped_early = True

    def finish(self, summary: BatchSummary) -> None:
        """Every row is written: the output (and the errors file, if it lists anything or was asked for) into place."""
        self.save(force=True)
        self.close()
        finish_output(spool_path(self.targets.output), self.targets.output, self.schema)
        counts = self.written.counts
        if counts.rejected or counts.failed or self.targets.errors_given:
            replace_atomically(spool_path(self.targets.errors), self.targets.errors)
            summary.errors_path = self.targets.errors
        else:
            spool_path(self.targets.errors).unlink(missing_ok=True)
        self.ck_path.unlink(missing_ok=True)
        summary.counts = counts
        summary.output = self.targets.output

    def close(self, *, abandon: bool = False) -> None:
        """Close the spools; ``abandon``: after a failed write, whose unsynced bytes are cut on resume anyway."""
        self.spool.close(abandon=abandon)
        self.error_spool.close(abandon=abandon)

    def discard(self) -> None:
        """Close and delete the spools and the checkpoint: for a run that cannot be resumed."""
        self.close(abandon=True)
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
    deployment: str | None = None,
    token_provider: TokenProvider | None = None,
    deployment_column: str | None = None,
    limits: EndpointLimits | None = None,
    allow_insecure_http: bool = False,
    answer_limits: AnswerLimits | None = None,
) -> BatchSummary:
    """As :func:`score_file`, inside a running event loop."""
    started = time.monotonic()
    targets = _Targets.checked(Path(input), Path(output), None if errors is None else Path(errors))
    source = open_input(
        input,
        format=input_format,
        delimiter=delimiter,
        id_column=id_column,
        count_rows=bool(progress and progress.enabled),
    )
    tuner = Tuner(tuner_settings(batch_size, concurrency, limits))
    endpoint = EndpointSettings(
        scoring_uri,
        api_key,
        contract,
        client,
        deployment,
        token_provider,
        allow_insecure_http=allow_insecure_http,
        answer_limits=answer_limits,
    )
    stopped: FailFast | None = None
    with _no_space_is_one_line(targets.output), output_lock(targets.output), output_lock(targets.errors):
        input_print = fingerprint(source.path)
        resumable = _resumable(targets, source, input_print) if resume else None
        async with connect(endpoint, proba, tuner) as sender:
            run = _FileRun(
                source,
                targets,
                sender,
                input_print=input_print,
                resume=resumable,
                allow_unknown=allow_unknown_categories,
                deployment_column=deployment_column,
            )
            try:
                await run.score(sender, fail_fast=fail_fast, progress=progress, started=started)
            except FailFast as exc:
                stopped = exc
            summary = BatchSummary(
                retries=run.retries(sender),
                resumed_rows=run.resumed_rows,
                batch_size=tuner.batch_size,
                concurrency=tuner.tuned_concurrency,
            )
        summary.elapsed = run.elapsed(started)
        if stopped is not None:
            run.stop_at(stopped, summary)
        else:
            run.finish(summary)
        return summary


def score_file(input: str | Path, output: str | Path, **kwargs: Any) -> BatchSummary:
    """Score a CSV or Parquet file into ``output`` (CSV or Parquet, by suffix); one output row per input row.

    Output columns: the input's id column if it has one, ``row`` (1-based), ``prediction`` and, when the endpoint
    offers ``predict_proba``, ``probability`` (of ``"yes"``), and with ``deployment_column="deployment"`` a column
    of that name naming the deployment that answered for each row (empty for rows never sent). Rows that fail
    validation are not sent; their prediction is empty and the errors file (``errors=``, default
    ``<output stem>.errors.csv``) says row, field and reason. ``deployment="green"`` sends every row to that
    deployment; ``token_provider`` replaces the key (``aml_token``). ``limits`` (anything with a ``pending_limit``,
    e.g. a discovered ``OnlineEndpointInfo``) starts the concurrency at Azure's 429 limit and never above.
    ``answer_limits`` caps each answer read (:class:`~bankmarketing_client.answers.AnswerLimits`; memory holds at
    most one cap per request in flight). ``resume=True`` continues an interrupted run (with the same columns).
    ``allow_insecure_http=True`` lets the key travel to a plain ``http://`` URI that is not loopback (refused
    otherwise, before any row is sent). Keywords as :func:`score_file_async`.
    """
    return run_sync("score_file", lambda: score_file_async(input, output, **kwargs))


__all__ = ["BatchSummary", "default_errors_path", "score_file", "score_file_async"]
