"""The retry policy's rules on their own: what is retried, how long it waits, when it gives up.

Pure logic, no HTTP: the behaviour against a real endpoint is in test_client.py.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
from collections.abc import Callable

import httpx
import pytest
import tenacity

from bankmarketing_client.errors import (
    APIError,
    ConfigurationError,
    RateLimitedError,
    RequestTimeoutError,
    ServiceUnavailableError,
    UnexpectedResponseError,
)
from bankmarketing_client.retry import RetryableError, RetryPolicy, overrun_error, parse_retry_after, transport_error

NOW = 1_800_000_000.0


def test_retry_after_seconds_date_and_milliseconds() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after": " 0.25 "}) == 0.25
    in_7_s = email.utils.formatdate(NOW + 7, usegmt=True)
    assert parse_retry_after({"retry-after": in_7_s}, now=NOW) == pytest.approx(7.0)
    past = email.utils.formatdate(NOW - 60, usegmt=True)
    assert parse_retry_after({"retry-after": past}, now=NOW) == 0.0
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({"retry-after": "-4"}) == 0.0


@pytest.mark.parametrize("value", ["soon", "", "inf", "Wed, 99 Foo 2026", "nan"])
def test_unreadable_retry_after_is_ignored(value: str) -> None:
    assert parse_retry_after({"retry-after": value}) is None


def test_no_retry_after() -> None:
    assert parse_retry_after({}) is None


@pytest.mark.parametrize("status", [408, 429, 502, 503, 504])
def test_transient_statuses_are_retried(status: int) -> None:
    assert RetryPolicy().should_retry_status(status, {})


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 413, 415, 422, 431, 500, 501])
def test_other_statuses_are_not(status: int) -> None:
    assert not RetryPolicy().should_retry_status(status, {})


@pytest.mark.parametrize(
    ("model_status", "retried"), [("503", True), ("502", True), ("429", True), ("500", False), ("400", False)]
)
def test_424_is_retried_only_when_the_wrapped_status_is_transient(model_status: str, retried: bool) -> None:
    headers = {"ms-azureml-model-error-statuscode": model_status}
    assert RetryPolicy().should_retry_status(424, headers) is retried
    assert not RetryPolicy().should_retry_status(424, {})


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    bounds: list[tuple[float, float]] = []

    def top(low: float, high: float) -> float:
        bounds.append((low, high))
        return high

    policy = RetryPolicy(backoff_base=0.5, backoff_max=3.0, rng=top)
    assert [policy.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert all(low == 0.0 for low, _ in bounds)  # full jitter: anything from zero up


def test_backoff_draws_vary() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=1.0)
    draws = {policy.backoff(1) for _ in range(50)}
    assert len(draws) > 40
    assert all(0.0 <= d <= 1.0 for d in draws)


@pytest.mark.parametrize(("arg", "value"), [("max_attempts", 0), ("deadline", 0.0), ("backoff_base", -1.0)])
def test_invalid_policies_are_refused(arg: str, value: float) -> None:
    with pytest.raises(ValueError, match=arg):
        RetryPolicy(**{arg: value})  # type: ignore[arg-type]


def _drive(policy: RetryPolicy, fail: Callable[[int], None], slept: list[float], calls: list[int]) -> None:
    """Drive ``policy`` over ``fail`` (called with the attempt number), recording waits instead of sleeping."""
    for attempt in policy.retrying(sleep=slept.append):
        with attempt:
            calls.append(attempt.retry_state.attempt_number)
            fail(attempt.retry_state.attempt_number)


def _run(policy: RetryPolicy, fail: Callable[[int], None]) -> tuple[int, list[float]]:
    """Attempts made and waits taken; a final retryable failure is swallowed (tested separately)."""
    slept: list[float] = []
    calls: list[int] = []
    with contextlib.suppress(RetryableError):
        _drive(policy, fail, slept, calls)
    return len(calls), slept


def _unavailable(request_id: str = "req-1") -> RetryableError:
    return RetryableError(ServiceUnavailableError("down", status=503, request_id=request_id))


def test_stops_after_max_attempts_and_reraises_the_last_error() -> None:
    policy = RetryPolicy(max_attempts=4, backoff_base=0.0)

    def fail(n: int) -> None:
        raise _unavailable(f"req-{n}")

    with pytest.raises(RetryableError) as caught:
        _drive(policy, fail, [], [])
    assert caught.value.error.request_id == "req-4"
    attempts, slept = _run(policy, fail)
    assert attempts == 4
    assert len(slept) == 3


def test_hooks_hear_each_retry_with_its_error_and_wait_and_the_shared_policy_is_untouched() -> None:
    heard: list[tuple[str | None, float]] = []
    shared = RetryPolicy(max_attempts=3, backoff_base=0.0)
    policy = shared.with_hook(lambda error, wait: heard.append((error.request_id, wait)))

    def fail(n: int) -> None:
        raise _unavailable(f"req-{n}")

    attempts, slept = _run(policy, fail)
    assert attempts == 3
    assert heard == [("req-1", 0.0), ("req-2", 0.0)]  # before each wait; none after the last attempt
    assert slept == [0.0, 0.0]
    assert shared.on_retry == ()
    assert policy == shared  # hooks are not part of what the policy decides


def test_success_after_failures_returns_normally() -> None:
    def fail(n: int) -> None:
        if n < 3:
            raise _unavailable()

    attempts, slept = _run(RetryPolicy(max_attempts=5, backoff_base=0.0), fail)
    assert attempts == 3
    assert slept == [0.0, 0.0]


def test_non_retryable_errors_pass_through_at_once() -> None:
    def bad_request(_: int) -> None:
        raise APIError("bad request", status=400)

    calls: list[int] = []
    with pytest.raises(APIError, match="bad request"):
        _drive(RetryPolicy(max_attempts=5), bad_request, [], calls)
    assert calls == [1]


def test_retry_after_replaces_the_backoff() -> None:
    def throttled(n: int) -> None:
        if n < 3:
            raise RetryableError(RateLimitedError("slow down", status=429, retry_after=1.25))

    attempts, slept = _run(RetryPolicy(max_attempts=5, backoff_base=100.0), throttled)
    assert (attempts, slept) == (3, [1.25, 1.25])


def test_a_wait_past_the_deadline_is_not_started() -> None:
    def throttled(_: int) -> None:
        raise RetryableError(RateLimitedError("slow down", status=429, retry_after=10.0))

    attempts, slept = _run(RetryPolicy(max_attempts=5, deadline=5.0), throttled)
    assert (attempts, slept) == (1, [])


def test_an_overlong_retry_after_is_not_waited_for_even_without_deadline() -> None:
    def throttled(_: int) -> None:
        raise RetryableError(RateLimitedError("slow down", status=429, retry_after=3600.0))

    attempts, slept = _run(RetryPolicy(max_attempts=5, deadline=None, max_retry_after=60.0), throttled)
    assert (attempts, slept) == (1, [])


def test_each_retry_is_logged_with_its_request_id(caplog: pytest.LogCaptureFixture) -> None:
    def fail(n: int) -> None:
        if n < 3:
            raise _unavailable(f"req-{n}")

    with caplog.at_level(logging.WARNING, logger="bankmarketing_client.retry"):
        _run(RetryPolicy(max_attempts=5, backoff_base=0.0), fail)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "HTTP 503" in messages[0]
    assert "request id req-1" in messages[0]
    assert "request id req-2" in messages[1]


def test_no_retries_policy_makes_one_attempt() -> None:
    attempts, slept = _run(RetryPolicy.no_retries(), lambda _: (_ for _ in ()).throw(_unavailable()))
    assert (attempts, slept) == (1, [])


async def _async_attempts(policy: RetryPolicy) -> int:
    calls = 0
    async for attempt in policy.async_retrying():
        with attempt:
            calls += 1
            if calls < 2:
                raise _unavailable()
    return calls


def test_async_retrying_follows_the_same_rules() -> None:
    import asyncio

    assert asyncio.run(_async_attempts(RetryPolicy(max_attempts=3, backoff_base=0.0))) == 2


def test_tenacity_retry_error_never_escapes() -> None:
    def fail(_: int) -> None:
        raise _unavailable()

    with pytest.raises(RetryableError):  # tenacity's RetryError would not match: reraise=True is in force
        _drive(RetryPolicy(max_attempts=2, backoff_base=0.0), fail, [], [])
    assert not issubclass(RetryableError, tenacity.RetryError)


def test_blocking_waits_look_up_time_sleep_late() -> None:
    """tenacity's own ``nap.sleep`` resolves ``time.sleep`` per call, so gevent patching after import still works."""
    assert RetryPolicy().retrying().sleep is tenacity.nap.sleep


# -- the composition: tenacity's own stops and waits ------------------------------------------------------------


def _failed_state(policy: RetryPolicy, error: Exception | None, *, attempt: int = 1) -> tenacity.RetryCallState:
    """A tenacity call state after ``attempt`` failed with ``error`` (or succeeded, for ``None``)."""
    state = tenacity.RetryCallState(retry_object=policy.retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    if error is None:
        state.set_result(None)
    else:
        state.set_exception((type(error), error, None))
    return state


def test_the_stop_is_the_or_of_tenacitys_attempt_and_deadline_stops() -> None:
    stop = RetryPolicy(max_attempts=4, deadline=5.0).stop
    assert isinstance(stop, tenacity.stop.stop_any)
    by_count, by_deadline = stop.stops
    assert isinstance(by_count, tenacity.stop_after_attempt)
    assert by_count.max_attempt_number == 4
    assert isinstance(by_deadline, tenacity.stop_before_delay)
    assert by_deadline.max_delay == 5.0
    no_deadline = RetryPolicy(max_attempts=4, deadline=None).stop
    assert isinstance(no_deadline, tenacity.stop_after_attempt)


@pytest.mark.parametrize(
    ("attempt", "elapsed", "upcoming", "stops"),
    [
        (1, 0.0, 0.1, False),
        (4, 0.0, 0.1, True),  # the count
        (2, 4.0, 0.5, False),
        (2, 4.0, 1.0, True),  # elapsed plus the next wait reaches the deadline
        (2, 5.5, 0.0, True),  # the deadline already passed
    ],
)
def test_either_stop_ends_the_call(attempt: int, elapsed: float, upcoming: float, stops: bool) -> None:
    policy = RetryPolicy(max_attempts=4, deadline=5.0)
    state = _failed_state(policy, _unavailable(), attempt=attempt)
    state.start_time = 100.0
    state.outcome_timestamp = 100.0 + elapsed
    state.upcoming_sleep = upcoming
    assert policy.stop(state) is stops


def test_the_fallback_wait_is_tenacitys_random_exponential_with_the_policys_shape() -> None:
    fallback = RetryPolicy(backoff_base=0.25, backoff_max=4.0).wait.fallback
    assert isinstance(fallback, tenacity.wait_random_exponential)
    assert (fallback.multiplier, fallback.max, fallback.min) == (0.25, 4.0, 0)


def test_retry_after_on_any_retried_error_replaces_the_random_draw() -> None:
    draws: list[float] = []

    def record(low: float, high: float) -> float:
        draws.append(high)
        return high

    policy = RetryPolicy(backoff_base=1.0, backoff_max=8.0, rng=record)
    hinted = RetryableError(ServiceUnavailableError("down", status=503, retry_after=2.5))
    assert policy.wait(_failed_state(policy, hinted, attempt=3)) == 2.5
    assert draws == []  # the random wait was not even drawn
    assert policy.wait(_failed_state(policy, _unavailable(), attempt=3)) == 4.0
    assert draws == [4.0]


def test_an_overlong_retry_after_is_not_retried_and_a_fitting_one_is() -> None:
    policy = RetryPolicy(max_retry_after=60.0)
    assert policy.should_retry(RetryableError(RateLimitedError("slow", status=429, retry_after=60.0)))
    assert not policy.should_retry(RetryableError(RateLimitedError("slow", status=429, retry_after=61.0)))
    assert not policy.should_retry(RateLimitedError("slow", status=429))  # not wrapped: the policy did not judge it


def test_one_retry_after_attribute() -> None:
    assert RateLimitedError("slow", status=429, retry_after=3.0).retry_after == 3.0
    assert RateLimitedError("slow", status=429).retry_after is None
    assert APIError("down", status=503, retry_after=1.0).retry_after == 1.0
    assert not hasattr(APIError("down"), "retry_hint")
    assert not hasattr(RetryableError(APIError("down")), "retry_after")


def test_wrapping_marks_the_error_transient() -> None:
    error = ServiceUnavailableError("down", status=503)
    assert not error.transient
    assert RetryableError(error).error is error
    assert error.transient


_REQUEST = httpx.Request("POST", "http://127.0.0.1:5001/score")


@pytest.mark.parametrize(
    ("exc", "kind", "text"),
    [
        (httpx.ConnectError("refused", request=_REQUEST), ServiceUnavailableError, "could not reach h:1 (ConnectError"),
        (httpx.ReadError("reset", request=_REQUEST), ServiceUnavailableError, "(ReadError: reset)"),
        (httpx.RemoteProtocolError("closed", request=_REQUEST), ServiceUnavailableError, "RemoteProtocolError"),
        (httpx.ConnectTimeout("slow", request=_REQUEST), RequestTimeoutError, "no answer from h:1 (connect timeout)"),
        (httpx.ReadTimeout("slow", request=_REQUEST), RequestTimeoutError, "(read timeout)"),
        (httpx.PoolTimeout("busy", request=_REQUEST), RequestTimeoutError, "(pool timeout)"),
    ],
)
def test_transport_failures_that_are_retried(exc: httpx.RequestError, kind: type[APIError], text: str) -> None:
    verdict = transport_error(exc, where="h:1", target="http://h:1/score", request_id="req-9")
    assert isinstance(verdict, RetryableError)
    assert type(verdict.error) is kind
    assert text in str(verdict.error)
    assert verdict.error.request_id == "req-9"
    assert verdict.error.status is None
    assert verdict.error.transient
    assert RetryPolicy().should_retry(verdict)


def test_transport_failures_that_are_not_retried() -> None:
    scheme = httpx.UnsupportedProtocol("no ftp", request=_REQUEST)
    verdict = transport_error(scheme, where="h:1", target="ftp://h:1/score", request_id="req-9")
    assert isinstance(verdict, ConfigurationError)
    assert "cannot send to ftp://h:1/score" in str(verdict)
    decoding = httpx.DecodingError("bad gzip", request=_REQUEST)
    verdict = transport_error(decoding, where="h:1", target="http://h:1/score", request_id="req-9")
    assert isinstance(verdict, UnexpectedResponseError)
    assert not verdict.transient
    assert not RetryPolicy().should_retry(verdict)


def test_an_attempt_that_overran_its_budget_is_retried_as_a_timeout() -> None:
    verdict = overrun_error(where="h:1", budget=2.5, request_id="req-3")
    assert isinstance(verdict.error, RequestTimeoutError)
    assert "within 2.5 s" in str(verdict.error)
    assert RetryPolicy().should_retry(verdict)


def test_async_retrying_is_tenacitys_and_reraises_the_last_error(caplog: pytest.LogCaptureFixture) -> None:
    import asyncio

    policy = RetryPolicy(max_attempts=3, backoff_base=0.0)
    assert isinstance(policy.async_retrying(), tenacity.AsyncRetrying)
    calls: list[int] = []

    async def always_down() -> None:
        async for attempt in policy.async_retrying():
            with attempt:
                calls.append(attempt.retry_state.attempt_number)
                raise _unavailable(f"req-{attempt.retry_state.attempt_number}")

    with caplog.at_level(logging.WARNING, logger="bankmarketing_client.retry"), pytest.raises(RetryableError) as caught:
        asyncio.run(always_down())
    assert calls == [1, 2, 3]
    assert caught.value.error.request_id == "req-3"
    assert [("request id req-1" in m, "request id req-2" in m) for m in caplog.messages] == [
        (True, False),
        (False, True),
    ]
