"""The scoring pipeline: validated chunks in, requests out at the tuned size and concurrency, results back in order.

One request per chunk. Chunks are prepared (validated, JSON text built) only when a request slot is free, so
memory holds at most ``concurrency`` requests in flight plus a bounded backlog of answered chunks waiting for an
earlier, slower one: results always leave in input order. Each answer is read under the client's cap for its
chunk (:class:`~bankmarketing_client.answers.AnswerLimits`: 1 MiB + 512 bytes per row by default), so answers in
flight never hold more than ``concurrency`` caps, whatever an endpoint sends; an answer past its cap stops the run
(it is not bisected: half the rows get half the cap).

Every chunk goes through the client's core (:meth:`AsyncScoringClient.score_json`: the same auth, request ids,
deadlines, status mapping and :class:`~bankmarketing_client.retry.RetryPolicy` as a typed call), with the more
patient :data:`BATCH_RETRY` and a hook on it: each retry tells the tuner (a 429 or 408 means send less) and frees
the chunk's request slot for another chunk while it waits. What stays here is what only a batch needs: a 413
splits the chunk, and a chunk the model refuses (a 424 wrapping a 500, or a 200 carrying an error) is bisected
so that only the row(s) the model refuses fail. A transient answer never splits a chunk: the policy sends its
rows again, whole, and when it gives up the run stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from bankmarketing_client.batch.summary import RowCounts
from bankmarketing_client.batch.tuner import Tuner
from bankmarketing_client.batch.validation import CheckedChunk
from bankmarketing_client.contract import Contract
from bankmarketing_client.errors import APIError, ModelError, PayloadTooLargeError, RowError, excerpt
from bankmarketing_client.retry import RetryPolicy

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    from numpy.typing import NDArray

    from bankmarketing_client.client import AsyncScoringClient

logger = logging.getLogger("bankmarketing_client.batch")

#: How long one chunk keeps trying: more patient than a single call (a batch run is unattended, and a chunk given
#: up stops the run), with a short first wait because the tuner has already sent less.
BATCH_RETRY: Final = RetryPolicy(max_attempts=12, deadline=300.0, backoff_base=0.2, backoff_max=5.0)
#: Answered chunks allowed to wait behind a slower earlier one, per request slot.
BACKLOG_PER_SLOT: Final = 4
ENDPOINT_FIELD: Final = "(endpoint)"


class FailFast(Exception):
    """Internal: validation found a bad row and the run was asked to stop at the first one."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(str(errors[0]) if errors else "invalid row")
        self.errors = errors


@dataclass
class InputChunk:
    """A chunk ready to send: its validation result and the ids to carry to the output."""

    checked: CheckedChunk
    ids: pa.Array | None = None


@dataclass
class ScoredChunk:
    """A chunk's results in row order: a label (None if rejected or failed), P(yes) (NaN if none) and the
    deployment that answered for the row (None if it was never sent, or the endpoint did not say)."""

    start_row: int
    num_rows: int
    ids: pa.Array | None
    labels: list[str | None]
    probabilities: NDArray[np.float64]
    errors: list[RowError]
    rejected: int
    failed: int
    deployments: list[str | None]

    @property
    def counts(self) -> RowCounts:
        """This chunk's share of the run's one set of counters."""
        scored = self.num_rows - self.rejected - self.failed
        return RowCounts(self.num_rows, scored, self.rejected, self.failed)


@dataclass
class _Answer:
    """Answers for a run of records; ``deployments`` per record, since the halves of a split chunk can be
    served by different deployments of a traffic split."""

    labels: Sequence[str | None]
    probabilities: Sequence[float]
    deployments: Sequence[str | None]
    failures: list[tuple[int, str]] = field(default_factory=list)


class Sender:
    """Posts a chunk's JSON records through the client's core and splits what the model refuses."""

    def __init__(
        self,
        client: AsyncScoringClient,
        contract: Contract,
        *,
        proba: bool,
        tuner: Tuner,
        policy: RetryPolicy = BATCH_RETRY,
    ) -> None:
        self.client = client
        self.contract = contract
        self.proba = proba
        self.tuner = tuner
        self.policy = policy.with_hook(self._on_retry)
        self.retries = 0
        #: Requests sleeping before a retry: they hold no connection, so they do not count against concurrency.
        self.waiting = 0
        self.slot_freed = asyncio.Event()
        contract.check_method("predict_proba" if proba else "predict")

    def _on_retry(self, error: APIError, wait: float) -> None:
        """The policy is about to wait ``wait`` s before sending a chunk again: tell the tuner, lend the slot."""
        self.retries += 1
        if error.status in (408, 429):
            self.tuner.on_throttle(error.status)
        self.waiting += 1
        self.slot_freed.set()
        asyncio.get_running_loop().call_later(wait, self._woken)  # fires before the sleep it shadows ends

    def _woken(self) -> None:
        self.waiting -= 1

    @staticmethod
    def records_array(records_json: pa.Array) -> bytes:
        """The chunk's JSON records joined into one JSON array, straight from Arrow's buffer (no str round trip)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        listed = pa.ListArray.from_arrays(pa.array([0, len(records_json)], pa.int32()), records_json)
        return b"[%b]" % pc.binary_join(listed, ",")[0].as_buffer()

    async def score(self, records_json: pa.Array) -> _Answer:
        """Labels and probabilities for every record; rows the model refuses come back as failures."""
        n = len(records_json)
        try:
            scored = await self.client.score_json(
                self.records_array(records_json), n, proba=self.proba, retry=self.policy
            )
        except (ModelError, PayloadTooLargeError) as exc:
            if exc.transient:  # the policy retried it and gave up: the rows are not at fault
                raise
            if isinstance(exc, PayloadTooLargeError):
                self.tuner.on_too_large(n)
            if n == 1:
                return _Answer([None], [float("nan")], [exc.deployment], [(0, _reason(exc))])
            half = n // 2
            first = await self.score(records_json.slice(0, half))
            second = await self.score(records_json.slice(half))
            return _Answer(
                [*first.labels, *second.labels],
                [*first.probabilities, *second.probabilities],
                [*first.deployments, *second.deployments],
                first.failures + [(half + i, r) for i, r in second.failures],
            )
        self.tuner.on_success(n, scored.elapsed)
        return _Answer(scored.labels, scored.probabilities, [scored.deployment] * n)


def _reason(exc: Exception) -> str:
    return excerpt(str(exc), 500)


def assemble(prepared: InputChunk, answer: _Answer | None) -> ScoredChunk:
    """Spread the answers for the valid rows back over the whole chunk, in row order."""
    import numpy as np

    checked = prepared.checked
    n = checked.num_rows
    labels: list[str | None] = [None] * n
    deployments: list[str | None] = [None] * n
    probabilities = np.full(n, np.nan)
    errors = list(checked.errors)
    failed = 0
    if answer is not None:
        positions = np.flatnonzero(checked.valid)
        for position, label, deployment in zip(positions.tolist(), answer.labels, answer.deployments, strict=True):
            labels[position] = label
            deployments[position] = deployment
        probabilities[positions] = np.asarray(answer.probabilities, dtype=np.float64)
        for offset, reason in answer.failures:
            errors.append(RowError(checked.start_row + int(positions[offset]), ENDPOINT_FIELD, reason))
            failed += 1
        errors.sort(key=lambda e: e.row)
    return ScoredChunk(
        checked.start_row, n, prepared.ids, labels, probabilities, errors, checked.rejected, failed, deployments
    )


async def scored_chunks(
    next_chunk: Callable[[int, Contract], Awaitable[InputChunk | None]],
    sender: Sender,
    *,
    fail_fast: bool = False,
) -> AsyncIterator[ScoredChunk]:
    """Drive the requests: ``next_chunk(max_rows, contract)`` gives the next chunk prepared in the contract's
    record layout, or None at the end."""
    tuner = sender.tuner
    queue: deque[tuple[InputChunk, asyncio.Task[_Answer] | None]] = deque()
    ready: InputChunk | None = None  # prepared ahead, so validation overlaps the requests in flight
    exhausted = False
    try:
        while True:
            running = sum(1 for _, task in queue if task is not None and not task.done()) - sender.waiting
            limit = tuner.concurrency * BACKLOG_PER_SLOT
            while running < tuner.concurrency and len(queue) < limit:
                if ready is None and not exhausted:
                    ready = await next_chunk(tuner.batch_size, sender.contract)
                    exhausted = ready is None
                if ready is None:
                    break
                prepared, ready = ready, None
                if fail_fast and prepared.checked.errors:
                    raise FailFast(prepared.checked.errors)
                task = None
                if len(prepared.checked.records_json):
                    task = asyncio.create_task(sender.score(prepared.checked.records_json))
                    running += 1
                queue.append((prepared, task))
            if ready is None and not exhausted and queue:
                await asyncio.sleep(0)  # let the new requests go out before preparing the next chunk
                ready = await next_chunk(tuner.batch_size, sender.contract)
                exhausted = ready is None
            if not queue:
                return
            head, head_task = queue[0]
            if head_task is not None and not head_task.done():
                sender.slot_freed.clear()
                wake = asyncio.ensure_future(sender.slot_freed.wait())
                pending: set[asyncio.Future[Any]] = {t for _, t in queue if t is not None and not t.done()}
                await asyncio.wait(pending | {wake}, return_when=asyncio.FIRST_COMPLETED)
                wake.cancel()
                continue
            queue.popleft()
            yield assemble(head, head_task.result() if head_task is not None else None)
    finally:
        for _, task in queue:
            if task is not None and not task.done():
                task.cancel()
        leftovers = [task for _, task in queue if task is not None]
        if leftovers:
            await asyncio.gather(*leftovers, return_exceptions=True)
