"""What runs on Spark's executors: one partition's Arrow batches in, the same rows scored out, in input order.

Each partition is scored exactly as the single-process scorer scores a frame: the batch engine's
:class:`~bankmarketing_client.batch.sources.TableChunks` validates the feature columns with the project's own
codec (:mod:`bankmarketing_client.batch.validation`: the same words as the CLI's errors file), and
:func:`~bankmarketing_client.batch.engine.scored_chunks` sends the valid rows through the client core
(:meth:`AsyncScoringClient.score_json` with :data:`~bankmarketing_client.batch.engine.BATCH_RETRY`, backing off on
429/408, bisecting what the model refuses). Invalid rows are never sent; they leave with ``error`` set.

The engine is asynchronous and Spark's ``mapInArrow`` wants a plain iterator, so each task runs its own event loop
and steps the engine one scored chunk at a time: memory stays at the engine's backlog, not the partition.
The client's connection pool and the engine's concurrency are both capped at the task's share of the in-flight
budget (:mod:`.budget`), so a retry waiting in the engine never lets an extra request out.

Test seam: the ``bankmarketing.spark.test_fault`` local property, ``crash:N`` or ``stall:N``, makes the first
attempt of partition N, after its first output batch, kill its own Python worker (``os._exit``) or sleep
:data:`STALL_SECONDS`. That is how the tests prove that a task dying mid-partition, and a straggler Spark runs a
speculative copy of, still yield each row once. Unset, it costs one property lookup per task.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import deque
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from bankmarketing_client.batch.engine import ScoredChunk, scored_chunks
from bankmarketing_client.batch.session import EndpointSettings, connect
from bankmarketing_client.batch.sources import TableChunks
from bankmarketing_client.batch.tuner import Tuner, TunerSettings
from bankmarketing_client.data import FEATURE_COLUMNS

if TYPE_CHECKING:
    import pyarrow as pa

    from bankmarketing_client.client import AsyncScoringClient
    from bankmarketing_client.contract import Contract
    from bankmarketing_client.spark.credentials import ExecutorCredentials

PREDICTION_COLUMN: Final = "prediction"
PROBABILITY_COLUMN: Final = "probability"
ERROR_COLUMN: Final = "error"
#: The local property that makes one task's first attempt crash or stall (tests only; see the module docstring).
FAULT_PROPERTY: Final = "bankmarketing.spark.test_fault"
#: How long a stalled first attempt sleeps: long enough for Spark to start a speculative copy.
STALL_SECONDS: Final = 8.0


@dataclass(frozen=True)
class PartitionScorer:
    """The settings a scoring task needs, pickled into the task: call it with a partition's Arrow batches.

    ``passthrough`` are the input columns copied to the output before the scores; ``per_task`` is this task's
    share of the in-flight budget; ``contract`` is the contract detected once on the driver (a family name, or
    the whole :class:`Contract` with what the swagger said).
    """

    scoring_uri: str
    contract: str | Contract
    credentials: ExecutorCredentials
    proba: bool
    passthrough: tuple[str, ...]
    per_task: int
    batch_size: int | None = None
    deployment: str | None = None
    allow_unknown_categories: bool = False
    allow_insecure_http: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        """The input columns a task reads, in the order Spark hands them over: the passthrough, then the features."""
        return (*self.passthrough, *(c for c in FEATURE_COLUMNS if c not in self.passthrough))

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        loop = asyncio.new_event_loop()
        fault = _fault_requested()
        try:
            stream = self._scored(batches)
            while True:
                try:
                    batch = loop.run_until_complete(anext(stream))
                except StopAsyncIteration:
                    break
                yield batch
                if fault == "crash":
                    os._exit(17)  # the test seam: the worker dies with output half sent
                if fault == "stall":
                    fault = None
                    time.sleep(STALL_SECONDS)  # the test seam: a straggler, output half sent
            loop.run_until_complete(stream.aclose())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _client(self) -> AsyncScoringClient:
        from bankmarketing_client.client import AsyncScoringClient, Timeouts
        from bankmarketing_client.retry import RetryPolicy

        return AsyncScoringClient(
            self.scoring_uri,
            contract=self.contract,
            deployment=self.deployment,
            # As the batch scorer's own client: only a contract lookup would use this policy; every chunk carries
            # the engine's BATCH_RETRY.
            retry=RetryPolicy(max_attempts=1, deadline=None),
            timeouts=Timeouts(connect=10.0, read=120.0, total=None),
            max_concurrency=self.per_task,
            use_env=False,
            allow_insecure_http=self.allow_insecure_http,
            **self.credentials.client_kwargs(),
        )

    async def _scored(self, batches: Iterator[pa.RecordBatch]) -> AsyncGenerator[pa.RecordBatch, None]:
        import pyarrow as pa

        kept: deque[pa.Table] = deque()

        def features() -> Iterator[pa.Table]:
            names = list(self.columns)
            for batch in batches:
                table = pa.Table.from_batches([batch]).rename_columns(names)
                kept.append(table.select(list(self.passthrough)))
                yield table.select(list(FEATURE_COLUMNS))

        tuner = Tuner(TunerSettings(batch_size=self.batch_size, concurrency=self.per_task))
        source = TableChunks(features(), start_row=1, id_column=None, allow_unknown=self.allow_unknown_categories)
        client = self._client()
        try:
            async with connect(EndpointSettings(client=client), self.proba, tuner) as sender:
                async for chunk in scored_chunks(source, sender):
                    yield self._output(chunk, _take(kept, chunk.num_rows))
        finally:
            await client.aclose()

    def _output(self, chunk: ScoredChunk, inputs: pa.Table) -> pa.RecordBatch:
        import pyarrow as pa

        arrays = [*inputs.columns, pa.array(chunk.labels, pa.string())]
        names = [*inputs.column_names, PREDICTION_COLUMN]
        if self.proba:
            arrays.append(pa.array([None if math.isnan(p) else p for p in chunk.probabilities.tolist()], pa.float64()))
            names.append(PROBABILITY_COLUMN)
        arrays.append(pa.array(error_texts(chunk), pa.string()))
        names.append(ERROR_COLUMN)
        return pa.Table.from_arrays(arrays, names=names).combine_chunks().to_batches()[0]


def error_texts(chunk: ScoredChunk) -> list[str | None]:
    """Each row's refusal as ``score_frame`` words it (``field: reason``, several joined by ``; ``), or None."""
    texts: list[str | None] = [None] * chunk.num_rows
    for error in chunk.errors:
        offset = error.row - chunk.start_row
        text = f"{error.field}: {error.reason}"
        previous = texts[offset]
        texts[offset] = text if previous is None else previous + "; " + text
    return texts


def _take(kept: deque[pa.Table], rows: int) -> pa.Table:
    """The next ``rows`` rows of the kept input columns (chunks and input batches are cut differently)."""
    import pyarrow as pa

    parts: list[pa.Table] = []
    while rows > 0:
        head = kept[0]
        if head.num_rows <= rows:
            parts.append(kept.popleft())
            rows -= head.num_rows
        else:
            parts.append(head.slice(0, rows))
            kept[0] = head.slice(rows)
            rows = 0
    return pa.concat_tables(parts) if len(parts) != 1 else parts[0]


def _fault_requested() -> str | None:
    """``crash`` or ``stall`` when this is the first attempt of the partition the test seam names, else None."""
    from pyspark import TaskContext

    context = TaskContext.get()
    if context is None or context.attemptNumber() != 0:
        return None
    kind, _, partition = (context.getLocalProperty(FAULT_PROPERTY) or "").partition(":")
    return kind if partition == str(context.partitionId()) and kind in ("crash", "stall") else None
