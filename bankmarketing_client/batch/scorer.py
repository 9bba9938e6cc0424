"""Batch scoring in memory: ``score_frame`` (a pandas frame in, a copy with predictions out) and ``score_stream``
(an async iterator of records in, results out in order). Files go through :mod:`.filerun`.

Both feed the same pipeline (:mod:`.engine`): chunks validated column-wise (:mod:`.sources`), sent at the batch
size and concurrency the tuner finds (:mod:`.tuner`), answers put back in input order.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from bankmarketing_client.batch.engine import scored_chunks
from bankmarketing_client.batch.session import EndpointSettings, _connect, run_sync
from bankmarketing_client.batch.sources import RecordChunks, TableChunks, aiter_records, frame_table
from bankmarketing_client.batch.tuner import Tuner, TunerSettings
from bankmarketing_client.errors import RowError

if TYPE_CHECKING:
    import pandas as pd

    from bankmarketing_client.auth import Secret
    from bankmarketing_client.client import AsyncScoringClient
    from bankmarketing_client.contract import Contract

PREDICTION_COLUMN: Final = "prediction"
PROBABILITY_COLUMN: Final = "probability"


@dataclass(frozen=True)
class ScoredRow:
    """One row from :func:`score_stream`: its 1-based number, the label (None if refused) and why not."""

    row: int
    label: str | None
    probability: float | None
    errors: tuple[RowError, ...] = ()


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
    endpoint = EndpointSettings(scoring_uri, api_key, contract, client)
    source = RecordChunks(aiter_records(records), allow_unknown=allow_unknown_categories)
    async with _connect(endpoint, proba, tuner) as sender:
        async for chunk in scored_chunks(source, sender):
            by_row: dict[int, list[RowError]] = {}
            for error in chunk.errors:
                by_row.setdefault(error.row, []).append(error)
            for offset in range(chunk.num_rows):
                row = chunk.start_row + offset
                p = float(chunk.probabilities[offset])
                yield ScoredRow(row, chunk.labels[offset], None if math.isnan(p) else p, tuple(by_row.get(row, ())))


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

    table = frame_table(frame)
    tuner = Tuner(TunerSettings(batch_size=batch_size, concurrency=concurrency))
    endpoint = EndpointSettings(scoring_uri, api_key, contract, client)
    labels: list[str | None] = []
    probabilities: list[Any] = []
    reasons: list[str | None] = [None] * len(frame)
    source = TableChunks(iter([table]), start_row=1, id_column=None, allow_unknown=allow_unknown_categories)
    async with _connect(endpoint, proba, tuner) as sender:
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
    return run_sync("score_frame", lambda: score_frame_async(frame, **kwargs))


__all__ = ["ScoredRow", "score_frame", "score_frame_async", "score_stream"]
