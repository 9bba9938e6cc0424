"""``score_file``: a CSV or Parquet file scored into another, resumable, every row exactly once.

On top of the pipeline the in-memory entry points share (:mod:`.sources`, :mod:`.engine`), a file run adds
streaming input (:mod:`.readers`), spooled output renamed into place at the end (:mod:`.writers`), checkpoints
for ``resume`` (:mod:`.checkpoint`) and one run per output at a time (:mod:`.lock`). :class:`_FileRun` holds one
run's state; :func:`score_file_async` only checks the paths, takes the locks and drives it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from bankmarketing_client.batch.checkpoint import Checkpoint, Written, checkpoint_path, fingerprint
from bankmarketing_client.batch.engine import FailFast, ScoredChunk, Sender, scored_chunks
from bankmarketing_client.batch.lock import output_lock
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
)
from bankmarketing_client.errors import APIError, BankMarketingError, ConfigurationError, DatasetError, RunStopped

if TYPE_CHECKING:
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


def _resumable_checkpoint(
    ck_path: Path, targets: _Targets, input_print: dict[str, Any], layout: dict[str, Any]
) -> Checkpoint | None:
    """The checkpoint ``--resume`` continues from (None: there is none), or a one-line refusal saying why not."""
    previous = Checkpoint.load(ck_path)
    if previous is None:
        logger.warning("nothing to resume for %s: starting from the first row", targets.output)
        return None
    why = previous.matches(input_print, layout)
    if why is not None:
        raise ConfigurationError(f"cannot resume from {ck_path}: {why}; run without --resume to start over")
    if not spool_path(targets.output).is_file() or not spool_path(targets.errors).is_file():
        raise ConfigurationError(
            f"cannot resume: the partial output beside {targets.output} is gone; run without --resume"
        )
    return previous


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
        resume: bool,
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
        input_print = fingerprint(source.path)
        previous = _resumable_checkpoint(self.ck_path, targets, input_print, layout) if resume else None
        if previous is None and self.ck_path.is_file():
            logger.warning(
                "an interrupted run of %s is discarded: starting over (--resume continues one)", targets.output
            )
        self.ck = previous or Checkpoint(input_print, layout)
        written = self.ck.written
        self.spool = AppendFile(
            spool_path(targets.output),
            length=written.output_bytes if previous else None,
            header=csv_header(self.schema.names),
        )
        self.error_spool = AppendFile(
            spool_path(targets.errors),
            length=written.errors_bytes if previous else None,
            header=csv_header(list(ERROR_COLUMNS)),
        )
        self.written = Written(written.counts, self.spool.tell(), self.error_spool.tell())
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
            self.source.iter_tables(skip_rows=done),
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
        self.written = self.written.plus(chunk.counts, self.spool.tell(), self.error_spool.tell())

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
        """fsync the spools, then record what they hold for certain (bytes past it are cut on resume)."""
        now = time.monotonic()
        if not force and now - self._last_save < CHECKPOINT_SECONDS:
            return
        self._last_save = now
        written = self.written
        self.spool.sync()
        self.error_spool.sync()
        self.ck.written = written
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
            self.save(force=True)
            self.close()
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
    deployment: str | None = None,
    token_provider: TokenProvider | None = None,
    deployment_column: str | None = None,
    limits: EndpointLimits | None = None,
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
    endpoint = EndpointSettings(scoring_uri, api_key, contract, client, deployment, token_provider, answer_limits)
    stopped: FailFast | None = None
    with output_lock(targets.output), output_lock(targets.errors):
        async with connect(endpoint, proba, tuner) as sender:
            run = _FileRun(
                source,
                targets,
                sender,
                resume=resume,
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
    most one cap per request in flight). ``resume=True`` continues an interrupted run
    (with the same columns). Keywords as :func:`score_file_async`.
    """
    return run_sync("score_file", lambda: score_file_async(input, output, **kwargs))


__all__ = ["BatchSummary", "default_errors_path", "score_file", "score_file_async"]
