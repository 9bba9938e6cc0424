"""The endpoint side of a batch run: where to send (:class:`EndpointSettings`) and the :class:`Sender` built from it.

Every entry point (file, frame, stream) opens its endpoint here, so that the client a run builds for itself, the
contract check and ``--proba`` are decided once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from bankmarketing_client.batch.engine import Sender
from bankmarketing_client.batch.tuner import Tuner
from bankmarketing_client.errors import ConfigurationError

if TYPE_CHECKING:
    from bankmarketing_client.answers import AnswerLimits
    from bankmarketing_client.auth import Secret, TokenProvider
    from bankmarketing_client.client import AsyncScoringClient
    from bankmarketing_client.contract import Contract

T = TypeVar("T")


@dataclass(frozen=True)
class EndpointSettings:
    """The endpoint a run scores against, as the caller gave it: built into an :class:`AsyncScoringClient`
    unless ``client`` is given. ``contract`` is a family name (``inputs``, ...) or a :class:`Contract`;
    ``deployment`` sends every chunk to that deployment; ``token_provider`` replaces the key (``aml_token``);
    ``allow_insecure_http`` lets the key travel to a plain ``http://`` URI that is not loopback (the client's rule);
    ``answer_limits`` caps every answer read (default: the client's, sized from each chunk's rows)."""

    scoring_uri: str | None = None
    api_key: str | Secret | None = None
    contract: str | Contract | None = None
    client: AsyncScoringClient | None = None
    deployment: str | None = None
    token_provider: TokenProvider | None = None
    allow_insecure_http: bool = False
    answer_limits: AnswerLimits | None = None


def run_sync(name: str, start: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``name``'s coroutine from synchronous code; inside a running event loop, say which one to await."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(start())
    raise ConfigurationError(f"{name} was called inside a running event loop; use await {name}_async(...)")


@contextlib.asynccontextmanager
async def connect(conn: EndpointSettings, proba: bool | None, tuner: Tuner) -> AsyncIterator[Sender]:
    from bankmarketing_client.client import AsyncScoringClient, Timeouts
    from bankmarketing_client.retry import RetryPolicy

    owned = conn.client is None
    if not owned and (conn.deployment or conn.token_provider or conn.answer_limits):
        raise ConfigurationError(
            "a run given a client scores with that client's deployment, auth and answer limits: set them there"
        )
    client = conn.client or AsyncScoringClient(
        conn.scoring_uri,
        conn.api_key,
        token_provider=conn.token_provider,
        deployment=conn.deployment,
        allow_insecure_http=conn.allow_insecure_http,
        contract=conn.contract,
        # Only the contract lookup uses this (one attempt): every chunk carries the engine's BATCH_RETRY, whose
        # hook tells the tuner about 429/408 (Sender).
        retry=RetryPolicy(max_attempts=1, deadline=None),
        timeouts=Timeouts(connect=10.0, read=120.0, total=None),
        # A manual concurrency above the tuner's own limit is the user's call: the client must not cap it.
        max_concurrency=max(tuner.settings.max_concurrency, tuner.settings.concurrency or 0),
        answer_limits=conn.answer_limits,
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
