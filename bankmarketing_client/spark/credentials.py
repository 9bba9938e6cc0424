"""How a key reaches Spark's executors without being written anywhere Spark writes.

:class:`~bankmarketing_client.auth.Secret` refuses pickling, and must: Spark pickles a task's closure, keeps it in
its block manager (which may spill to local disk) and a broadcast's value in a driver temp file. So a key is split
into two shares of a one-time pad: random bytes (the *mask*, pickled inside the task closure) and the key XOR the mask
(sent as a Spark broadcast). Each share alone is uniformly random and says nothing about the key; only the Python
worker holds both, in memory, and rebuilds the :class:`Secret` there. Nothing Spark shows or logs (the UI and its
REST API, the event log, query plans, task descriptions, driver and executor logs) ever sees either share: they are
not configuration, not columns, not literals, and not job or stage descriptions. ``tests/spark/test_secrets.py``
greps each of those places for the key.

Spark's ``spark.redaction.regex`` is not relied on: it masks only configuration entries and environment variables
whose *names* match, so a key carried in ``spark.executorEnv.*`` under another name, in a literal column, or in a
local property would be shown in full; keeping the key out of all of them is the only safe rule.

A token provider travels as itself (cloudpickle): give one whose pickled form holds no secret, such as
:func:`~bankmarketing_client.auth.token_file_provider` (a path on storage the executors can read) or a callable
that asks a managed identity or a secret store on the executor.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bankmarketing_client.auth import Secret, TokenProvider
from bankmarketing_client.errors import ConfigurationError

if TYPE_CHECKING:
    from pyspark import SparkContext
    from pyspark.core.broadcast import Broadcast


def _xor(left: bytes, right: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(left, right, strict=True))


class SealedSecret:
    """A :class:`Secret` as two XOR shares: a mask kept in the pickled closure and the masked bytes in a broadcast."""

    __slots__ = ("_mask", "_masked")

    def __init__(self, mask: bytes, masked: Broadcast[bytes]) -> None:
        self._mask = mask
        self._masked = masked

    @classmethod
    def seal(cls, context: SparkContext, secret: Secret) -> SealedSecret:
        """Split ``secret`` on the driver; the broadcast lives as long as the plans that use it."""
        plain = secret.reveal().encode()
        mask = secrets.token_bytes(len(plain))
        return cls(mask, context.broadcast(_xor(plain, mask)))

    def open(self) -> Secret:
        """The secret again, on the executor (reads the broadcast share)."""
        return Secret(_xor(self._masked.value, self._mask).decode())

    def __repr__(self) -> str:
        return "SealedSecret(********)"

    def __reduce__(self) -> tuple[Any, ...]:
        return (SealedSecret, (self._mask, self._masked))


@dataclass(frozen=True)
class ExecutorCredentials:
    """What a scoring task authenticates with: sealed keys, or a (picklable) token provider, or nothing."""

    primary: SealedSecret | None = None
    secondary: SealedSecret | None = None
    token_provider: TokenProvider | None = None

    @classmethod
    def seal(
        cls,
        context: SparkContext,
        api_key: Secret | None,
        secondary_key: Secret | None,
        token_provider: TokenProvider | None,
    ) -> ExecutorCredentials:
        """Seal the keys for shipping (the token provider is shipped as it is, so it must pickle: checked here, on
        the driver, rather than as a pickling error at the first action)."""
        if token_provider is not None:
            _check_picklable(token_provider)
        return cls(
            primary=SealedSecret.seal(context, api_key) if api_key is not None else None,
            secondary=SealedSecret.seal(context, secondary_key) if secondary_key is not None else None,
            token_provider=token_provider,
        )

    def client_kwargs(self) -> dict[str, Any]:
        """The :class:`~bankmarketing_client.client.AsyncScoringClient` keywords for these credentials."""
        return {
            "api_key": self.primary.open() if self.primary is not None else None,
            "secondary_key": self.secondary.open() if self.secondary is not None else None,
            "token_provider": self.token_provider,
        }


def _check_picklable(token_provider: TokenProvider) -> None:
    from pyspark import cloudpickle

    try:
        cloudpickle.dumps(token_provider)  # type: ignore[no-untyped-call]  # pyspark's vendored copy has no hints
    except Exception as exc:
        raise ConfigurationError(
            f"the token provider {type(token_provider).__name__} cannot be shipped to Spark's executors (it does "
            f"not pickle: {type(exc).__name__}); pass one that fetches the token there, such as "
            "token_file_provider(path) on storage the executors read"
        ) from None
