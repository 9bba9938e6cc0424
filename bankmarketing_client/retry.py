"""The one retry policy of the scoring client, built on tenacity.

What is retried, and why (see ``docs/retry-policy.md`` for the comparison with azure-core and openai-python):

* **Connection errors and timeouts** (refused, reset, DNS, read/connect timeout): the request may not have
  reached the model, and scoring is a pure function of its input, so sending it again is safe.
* **408** (Azure's front cut the request at ``request_timeout_ms``), **429** (too many pending requests),
  **502, 503, 504** (front or container not answering now): transient by definition.
* **424** only when the container status it wraps (``ms-azureml-model-error-statuscode``) is itself transient
  (one of the statuses above). A 424 wrapping a 500 is the scoring script failing on this input: it would fail
  again, so it is raised at once.
* **500** never: from an inference container it means the scoring script raised
  (``x-ms-run-function-failed``), which is deterministic for a given payload. A crashed or restarting worker
  shows up as 502/503 at the front.
* Every other 4xx never: the request itself is wrong (key, payload, size).

Everything is tenacity's own parts: attempts stop at ``stop_after_attempt(max_attempts) |
stop_before_delay(deadline)`` (the count, or a wait that would cross the overall deadline, whichever comes
first); the wait is the server's ``Retry-After`` (seconds or an HTTP date) when the error carries one, and
otherwise ``wait_random_exponential`` (*full* jitter, a uniform draw in ``[0, min(cap, base * 2**(n-1))]``), so
that many clients refused together do not come back together. A ``Retry-After`` over ``max_retry_after`` is
not retried at all. The last error is raised as it is (``reraise=True``: never tenacity's ``RetryError``).

Which failures are retried is decided here alone: statuses by :meth:`RetryPolicy.should_retry_status`, and
transport failures (no HTTP answer) by :func:`transport_error`, which also names the :class:`APIError` each
becomes. A retried error is wrapped in :class:`RetryableError` while attempts remain.

Whoever needs to know about a retry subscribes to the policy instead of looping itself:
:meth:`RetryPolicy.with_hook` gives a policy whose ``on_retry`` callbacks hear each retried error and the wait
before the next attempt (the batch tuner sends less after a 429 and frees the slot while the chunk waits).
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

import httpx
import tenacity
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from bankmarketing_client.errors import (
    APIError,
    ConfigurationError,
    RequestTimeoutError,
    ServiceUnavailableError,
    UnexpectedResponseError,
)

logger = logging.getLogger("bankmarketing_client.retry")

#: Statuses that mean "not now" rather than "not this request".
RETRYABLE_STATUSES: Final = frozenset({408, 429, 502, 503, 504})
#: Header Azure's front adds to a 424: the status the container answered.
MODEL_STATUS_HEADER: Final = "ms-azureml-model-error-statuscode"
#: Header the inference server sets when ``run()`` raised: the script failed on this input (deterministic).
RUN_FAILED_HEADER: Final = "x-ms-run-function-failed"

#: Told about every retry, before its wait: the error being retried and the seconds about to be waited.
RetryHook = Callable[[APIError, float], None]


class RetryableError(Exception):
    """Internal: wraps an :class:`APIError` the policy decided to retry (its ``retry_after`` paces the wait).

    Never escapes the client: when attempts run out, the wrapped ``error`` is raised instead.
    """

    def __init__(self, error: APIError) -> None:
        super().__init__(str(error))
        self.error = error
        error.transient = True  # the policy's verdict travels with the error callers see


def transport_error(
    exc: httpx.RequestError, *, where: str, target: str, request_id: str | None
) -> RetryableError | APIError | ConfigurationError:
    """What a failure with no usable HTTP answer becomes, and whether it is retried (wrapped) or not.

    Timeouts and connection errors (refused, reset, DNS) are retried: the request may not have reached the model,
    and scoring is pure. An unsupported scheme is a configuration mistake and an undecodable body would be the same
    again, so neither is retried. ``where`` is ``host:port`` and ``target`` the redacted URI, for messages.
    """
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ConfigurationError(f"cannot send to {target}: {exc}")
    if isinstance(exc, httpx.TimeoutException):
        kind = type(exc).__name__.replace("Timeout", " timeout").lower().strip()
        return RetryableError(RequestTimeoutError(f"no answer from {where} ({kind})", request_id=request_id))
    if isinstance(exc, httpx.TransportError):
        return RetryableError(
            ServiceUnavailableError(f"could not reach {where} ({type(exc).__name__}: {exc})", request_id=request_id)
        )
    return UnexpectedResponseError(
        f"unreadable answer from {where} ({type(exc).__name__}: {exc})", request_id=request_id
    )


def overrun_error(*, where: str, budget: float, request_id: str | None) -> RetryableError:
    """The attempt took its whole budget (e.g. an answer trickling in): retried, like a timeout, while time is left."""
    return RetryableError(
        RequestTimeoutError(f"no complete answer from {where} within {budget:g} s", request_id=request_id)
    )


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (delta-seconds or an HTTP date), ``retry-after-ms`` as a fallback.

    Returns ``None`` when absent or unreadable; a date in the past gives 0.
    """
    value = headers.get("retry-after")
    if value is not None:
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                return None
            if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive parse means the zone was omitted
                return None
            current = time.time() if now is None else now
            return max(0.0, when.timestamp() - current)
        return max(0.0, seconds) if math.isfinite(seconds) else None
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            ms = float(millis)
        except ValueError:
            return None
        return max(0.0, ms / 1000.0) if math.isfinite(ms) else None
    return None


class wait_full_jitter(tenacity.wait_random_exponential):
    """tenacity's ``wait_random_exponential`` (full jitter) with the uniform draw injectable, so tests can pin it."""

    def __init__(self, *, multiplier: float, max: float, rng: Callable[[float, float], float]) -> None:
        super().__init__(multiplier=multiplier, max=max)
        self.rng = rng

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        ceiling = tenacity.wait_exponential.__call__(self, retry_state)  # the window wait_random_exponential draws in
        return self.rng(self.min, ceiling)


class wait_retry_after(wait_base):
    """The server's ``Retry-After`` when the failed attempt's error carries one, otherwise ``fallback``."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        error = _failed_error(retry_state)
        if error is not None and error.retry_after is not None:
            return error.retry_after
        return self.fallback(retry_state)


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a request again and how long to wait. Immutable; share one instance freely.

    ``max_attempts`` counts the first try (1 = never retry). ``deadline`` bounds the whole call in seconds,
    waits included (``None``: attempts alone bound it). ``backoff_base`` and ``backoff_max`` shape the
    exponential wait before full jitter. A ``Retry-After`` longer than ``max_retry_after`` is not waited for:
    the error is raised at once, since the caller is better placed to decide about a long pause. ``on_retry``
    are the subscribers told about each retry (see :meth:`with_hook`).
    """

    max_attempts: int = 5
    deadline: float | None = 60.0
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 60.0
    retry_statuses: frozenset[int] = field(default=RETRYABLE_STATUSES)
    rng: Callable[[float, float], float] = field(default=random.uniform, repr=False, compare=False)
    on_retry: tuple[RetryHook, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.deadline is not None and self.deadline <= 0:
            raise ValueError("deadline must be positive (or None)")
        if self.backoff_base < 0 or self.backoff_max < 0:
            raise ValueError("backoff_base and backoff_max must not be negative")

    @classmethod
    def no_retries(cls) -> RetryPolicy:
        """One attempt only, still bounded by the default deadline."""
        return cls(max_attempts=1)

    def with_hook(self, hook: RetryHook) -> RetryPolicy:
        """This policy with ``hook`` also told about each retry (a new instance: a shared policy is left alone)."""
        return replace(self, on_retry=(*self.on_retry, hook))

    def should_retry_status(self, status: int, headers: Mapping[str, str]) -> bool:
        """The rule above: the transient set, and a 424 only when the model status it wraps is transient."""
        if status in self.retry_statuses:
            return True
        if status == 424:
            wrapped = headers.get(MODEL_STATUS_HEADER, "").strip()
            return wrapped.isdigit() and int(wrapped) in self.retry_statuses
        return False

    def should_retry(self, exc: BaseException) -> bool:
        """tenacity's ``retry=`` test: a wrapped error, unless its ``Retry-After`` is longer than we wait for."""
        if not isinstance(exc, RetryableError):
            return False
        hint = exc.error.retry_after
        return hint is None or hint <= self.max_retry_after

    @property
    def stop(self) -> stop_base:
        """``stop_after_attempt(max_attempts) | stop_before_delay(deadline)`` (the count alone without deadline)."""
        by_count = tenacity.stop_after_attempt(self.max_attempts)
        return by_count if self.deadline is None else by_count | tenacity.stop_before_delay(self.deadline)

    @property
    def wait(self) -> wait_retry_after:
        """The server's ``Retry-After`` if any, else full-jitter exponential backoff (``wait_random_exponential``)."""
        return wait_retry_after(wait_full_jitter(multiplier=self.backoff_base, max=self.backoff_max, rng=self.rng))

    def backoff(self, retry_number: int) -> float:
        """The jittered wait before retry ``retry_number`` (1 for the first) when the server gave no hint."""
        state = tenacity.RetryCallState(retry_object=self.retrying(), fn=None, args=(), kwargs={})
        state.attempt_number = retry_number
        return self.wait(state)

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        """tenacity's ``before_sleep``: one WARNING per retry, then the subscribers."""
        error = _failed_error(state)
        if error is None:
            return
        wait = state.upcoming_sleep
        logger.warning(
            "retrying after %s (attempt %d of %d failed, request id %s); waiting %.2f s",
            _describe(error),
            state.attempt_number,
            self.max_attempts,
            error.request_id or "-",
            wait,
        )
        for hook in self.on_retry:
            hook(error, wait)

    def retrying(self, *, sleep: Callable[[float], None] | None = None) -> tenacity.Retrying:
        """A fresh tenacity ``Retrying`` for one blocking call.

        Without ``sleep``, tenacity looks ``time.sleep`` up at each wait, so a gevent monkey-patch applied after
        this module was imported (Locust) still makes waits cooperative.
        """
        retrying = tenacity.Retrying(**self._rules())
        return retrying if sleep is None else retrying.copy(sleep=sleep)

    def async_retrying(self) -> tenacity.AsyncRetrying:
        """The same rules for one asynchronous call, waits awaited: ``async for attempt in ...: with attempt:``."""
        return tenacity.AsyncRetrying(**self._rules())

    def _rules(self) -> dict[str, Any]:
        """What both kinds of tenacity loop are built from: one set of rules for both faces."""
        return {
            "retry": tenacity.retry_if_exception(self.should_retry),
            "stop": self.stop,
            "wait": self.wait,
            "before_sleep": self._before_sleep,
            "reraise": True,  # the last error as it is, never tenacity's RetryError
        }

    def remaining(self, started: float, *, now: float | None = None) -> float | None:
        """Seconds left before the deadline of a call that started at ``started`` (``time.monotonic()``)."""
        if self.deadline is None:
            return None
        current = time.monotonic() if now is None else now
        return self.deadline - (current - started)


def _failed_error(state: tenacity.RetryCallState) -> APIError | None:
    """The error the policy is retrying after the attempt ``state`` describes, if that attempt failed so."""
    outcome = state.outcome
    if outcome is None or not outcome.failed:
        return None
    exc = outcome.exception()
    return exc.error if isinstance(exc, RetryableError) else None


def _describe(error: APIError) -> str:
    if error.status is not None:
        return f"HTTP {error.status}"
    return type(error).__name__
