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
from bankmarketing_client.batch.session import EndpointSettings, connect, run_sync
from bankmarketing_client.batch.sources import RecordChunks, TableChunks, aiter_records, frame_table
from bankmarketing_client.batch.tuner import Tuner, tuner_settings
from bankmarketing_client.errors import ConfigurationError, RowError

if TYPE_CHECKING:
    import pandas as pd

    from bankmarketing_client.auth import Secret, TokenProvider
    from bankmarketing_client.client import AsyncScoringClient
    from bankmarketing_client.contract import Contract
    from bankmarketing_client.limits import EndpointLimits

PREDICTION_COLUMN: Final = "prediction"
PROBABILITY_COLUMN: Final = "probability"
ERROR_COLUMN: Final = "error"


def check_deployment_column(name: str, taken: Iterable[str]) -> str:
    """``name`` for the serving-deployment column, unless it is empty or another output column's name."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError("the deployment column needs a name, e.g. deployment_column='deployment'")
    if name in set(taken):
        raise ConfigurationError(f"the deployment column {name!r} would replace a column of that name; pick another")
    return name


@dataclass(frozen=True)
class ScoredRow:
    """One row from :func:`score_stream`: its 1-based number, the label (None if refused), why not, and the
    deployment that answered for it (None if it was never sent, or the endpoint did not say)."""

    row: int
    label: str | None
    probability: float | None
    errors: tuple[RowError, ...] = ()
    deployment: str | None = None


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
    deployment: str | None = None,
    token_provider: TokenProvider | None = None,
    limits: EndpointLimits | None = None,
    allow_insecure_http: bool = False,
) -> AsyncIterator[ScoredRow]:
    """Score records as they come, yielding one :class:`ScoredRow` per record in input order.

    Records that fail validation are yielded with ``label=None`` and their errors, never sent. ``deployment``
    sends every record to that deployment; each row says which deployment answered for it. ``limits`` (anything
    with a ``pending_limit``, e.g. a discovered ``OnlineEndpointInfo``) starts the concurrency at Azure's 429 limit
    and never searches above it. ``allow_insecure_http`` lets the key travel to a plain ``http://`` URI that is not
    loopback (refused otherwise, before anything is sent).
    """
    tuner = Tuner(tuner_settings(batch_size, concurrency, limits))
    endpoint = EndpointSettings(
        scoring_uri, api_key, contract, client, deployment, token_provider, allow_insecure_http=allow_insecure_http
    )
    source = RecordChunks(aiter_records(records), allow_unknown=allow_unknown_categories)
    async with connect(endpoint, proba, tuner) as sender:
        async for chunk in scored_chunks(source, sender):
            by_row: dict[int, list[RowError]] = {}
            for error in chunk.errors:
                by_row.setdefault(error.row, []).append(error)
            for offset in range(chunk.num_rows):
                row = chunk.start_row + offset
                p = float(chunk.probabilities[offset])
                errors = tuple(by_row.get(row, ()))
                label, served = chunk.labels[offset], chunk.deployments[offset]
                yield ScoredRow(row, label, None if math.isnan(p) else p, errors, served)


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
    deployment: str | None = None,
    token_provider: TokenProvider | None = None,
    deployment_column: str | None = None,
    limits: EndpointLimits | None = None,
    allow_insecure_http: bool = False,
) -> pd.DataFrame:
    """As :func:`score_frame`, inside a running event loop."""
    import numpy as np

    if deployment_column is not None:
        taken = [*map(str, frame.columns), PREDICTION_COLUMN, PROBABILITY_COLUMN, ERROR_COLUMN]
        check_deployment_column(deployment_column, taken)
    table = frame_table(frame)
    tuner = Tuner(tuner_settings(batch_size, concurrency, limits))
    endpoint = EndpointSettings(
        scoring_uri, api_key, contract, client, deployment, token_provider, allow_insecure_http=allow_insecure_http
    )
    served: list[str | None] = []
    labels: list[str | None] = []
    probabilities: list[Any] = []
    reasons: list[str | None] = [None] * len(frame)
    source = TableChunks(iter([table]), start_row=1, id_column=None, allow_unknown=allow_unknown_categories)
    async with connect(endpoint, proba, tuner) as sender:
        async for chunk in scored_chunks(source, sender):
            labels += chunk.labels
            served += chunk.deployments
            probabilities.append(chunk.probabilities)
            for error in chunk.errors:
                previous = reasons[error.row - 1]
                text = f"{error.field}: {error.reason}"
                reasons[error.row - 1] = text if previous is None else previous + "; " + text
        result = frame.copy()
        result[PREDICTION_COLUMN] = labels
        if sender.proba:
            result[PROBABILITY_COLUMN] = np.concatenate(probabilities) if probabilities else []
        result[ERROR_COLUMN] = reasons
        if deployment_column is not None:
            result[deployment_column] = served
    return result


def score_frame(frame: pd.DataFrame, **kwargs: Any) -> pd.DataFrame:
    """A copy of ``frame`` with ``prediction`` (``probability`` on ``inputs`` endpoints) and ``error`` columns.

    Rows that fail validation are not sent: their prediction is None and ``error`` says which field and why.
    ``deployment="green"`` sends every row to that deployment; ``deployment_column="deployment"`` adds a column
    naming the deployment that answered for each row (None for rows never sent); ``limits=`` starts the concurrency
    at the endpoint's pending limit. Keywords as
    :func:`score_frame_async`.
    """
    return run_sync("score_frame", lambda: score_frame_async(frame, **kwargs))


__all__ = ["ScoredRow", "score_frame", "score_frame_async", "score_stream"]
