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

Waits are exponential with *full* jitter (a uniform draw in ``[0, min(cap, base * 2**n)]``), so that many
clients refused together do not come back together. A ``Retry-After`` header (seconds or an HTTP date)
replaces the computed wait. Attempts stop at ``max_attempts`` or when the next wait would cross the overall
``deadline``, whichever comes first; the last error is then raised as it is (never tenacity's ``RetryError``).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

import tenacity

from bankmarketing_client.errors import APIError

logger = logging.getLogger("bankmarketing_client.retry")

#: Statuses that mean "not now" rather than "not this request".
RETRYABLE_STATUSES: Final = frozenset({408, 429, 502, 503, 504})
#: Header Azure's front adds to a 424: the status the container answered.
MODEL_STATUS_HEADER: Final = "ms-azureml-model-error-statuscode"


class RetryableError(Exception):
    """Internal: wraps an :class:`APIError` the policy decided to retry, with the server's wait hint if any.

    Never escapes the client: when attempts run out, the wrapped ``error`` is raised instead.
    """

    def __init__(self, error: APIError, *, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after
        error.transient = True  # the policy's verdict travels with the error callers see
        error.retry_hint = retry_after


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


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a request again and how long to wait. Immutable; share one instance freely.

    ``max_attempts`` counts the first try (1 = never retry). ``deadline`` bounds the whole call in seconds,
    waits included (``None``: attempts alone bound it). ``backoff_base`` and ``backoff_max`` shape the
    exponential wait before full jitter. A ``Retry-After`` longer than ``max_retry_after`` is not waited for:
    the error is raised at once, since the caller is better placed to decide about a long pause.
    """

    max_attempts: int = 5
    deadline: float | None = 60.0
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 60.0
    retry_statuses: frozenset[int] = field(default=RETRYABLE_STATUSES)
    rng: Callable[[float, float], float] = field(default=random.uniform, repr=False, compare=False)

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

    def should_retry_status(self, status: int, headers: Mapping[str, str]) -> bool:
        """The rule above: the transient set, and a 424 only when the model status it wraps is transient."""
        if status in self.retry_statuses:
            return True
        if status == 424:
            wrapped = headers.get(MODEL_STATUS_HEADER, "").strip()
            return wrapped.isdigit() and int(wrapped) in self.retry_statuses
        return False

    def backoff(self, retry_number: int) -> float:
        """Full-jitter exponential wait before retry ``retry_number`` (1 for the first retry)."""
        ceiling = min(self.backoff_max, self.backoff_base * (2.0 ** max(0, retry_number - 1)))
        return self.rng(0.0, ceiling)

    # -- tenacity wiring -------------------------------------------------------------------------------------

    def _wait(self, state: tenacity.RetryCallState) -> float:
        hint = _hint(state)
        if hint is not None:
            return hint
        return self.backoff(state.attempt_number)

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        if state.attempt_number >= self.max_attempts:
            return True
        hint = _hint(state)
        if hint is not None and hint > self.max_retry_after:
            return True
        elapsed = state.seconds_since_start or 0.0
        return self.deadline is not None and elapsed + state.upcoming_sleep >= self.deadline

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        error = _error(state)
        if error is None:
            return
        logger.warning(
            "retrying after %s (attempt %d of %d failed, request id %s); waiting %.2f s",
            _describe(error),
            state.attempt_number,
            self.max_attempts,
            error.request_id or "-",
            state.upcoming_sleep,
        )

    def _kwargs(self) -> dict[str, object]:
        return {
            "stop": self._stop,
            "wait": self._wait,
            "retry": tenacity.retry_if_exception_type(RetryableError),
            "before_sleep": self._log_retry,
            "reraise": True,
        }

    def retrying(self, *, sleep: Callable[[float], None] | None = None) -> tenacity.Retrying:
        """A fresh tenacity ``Retrying`` for one blocking call.

        Without ``sleep``, tenacity looks ``time.sleep`` up at each wait, so a gevent monkey-patch applied after
        this module was imported (Locust) still makes waits cooperative.
        """
        if sleep is None:
            return tenacity.Retrying(**self._kwargs())  # type: ignore[arg-type]
        return tenacity.Retrying(sleep=sleep, **self._kwargs())  # type: ignore[arg-type]

    def async_retrying(self) -> AsyncIterator[tenacity.AttemptManager]:
        """The attempts of one asynchronous call: the same tenacity controller and rules, waits on asyncio.

        Used as ``async for attempt in policy.async_retrying(): with attempt: ...``, like tenacity's
        ``AsyncRetrying``, which is not used because it re-inspects every callback on every attempt to support
        coroutine callbacks this policy does not have (about 50 us per call, measured).
        """
        return _AsyncAttempts(tenacity.Retrying(**self._kwargs()))  # type: ignore[arg-type]

    def remaining(self, started: float, *, now: float | None = None) -> float | None:
        """Seconds left before the deadline of a call that started at ``started`` (``time.monotonic()``)."""
        if self.deadline is None:
            return None
        current = time.monotonic() if now is None else now
        return self.deadline - (current - started)


class _AsyncAttempts:
    """Drives a tenacity ``Retrying`` controller from async code: attempts are yielded, waits are awaited."""

    def __init__(self, controller: tenacity.Retrying) -> None:
        controller.begin()
        self._controller = controller
        self._state = tenacity.RetryCallState(retry_object=controller, fn=None, args=(), kwargs={})

    def __aiter__(self) -> _AsyncAttempts:
        return self

    async def __anext__(self) -> tenacity.AttemptManager:
        while True:
            action = self._controller.iter(retry_state=self._state)  # raises the last error when it gives up
            if isinstance(action, tenacity.DoAttempt):
                return tenacity.AttemptManager(retry_state=self._state)
            if isinstance(action, tenacity.DoSleep):
                self._state.prepare_for_next_attempt()
                await asyncio.sleep(action)
                continue
            raise StopAsyncIteration


def _error(state: tenacity.RetryCallState) -> APIError | None:
    outcome = state.outcome
    if outcome is None or not outcome.failed:
        return None
    exc = outcome.exception()
    return exc.error if isinstance(exc, RetryableError) else None


def _hint(state: tenacity.RetryCallState) -> float | None:
    outcome = state.outcome
    if outcome is None or not outcome.failed:
        return None
    exc = outcome.exception()
    return exc.retry_after if isinstance(exc, RetryableError) else None


def _describe(error: APIError) -> str:
    if error.status is not None:
        return f"HTTP {error.status}"
    return type(error).__name__
