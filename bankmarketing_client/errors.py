"""The exception hierarchy: every error this package raises derives from :class:`BankMarketingError`.

Errors from the endpoint carry the HTTP status, the request id and a short excerpt of the body, never a key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

BODY_EXCERPT_CHARS = 300
#: What stands in for a secret (a key, a token, a URL's userinfo) wherever one would be shown.
REDACTED = "********"


class BankMarketingError(Exception):
    """Base class of every error raised by bankmarketing_client."""


class ConfigurationError(BankMarketingError):
    """A setting is missing or contradictory (no scoring URI, no key, unknown contract, ...)."""


class DatasetError(BankMarketingError):
    """The bank-marketing dataset is missing, unreadable or not the expected shape."""


@dataclass(frozen=True)
class RowError:
    """One reason one input row was refused: the 1-based row number, the wire field name and why."""

    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.field}: {self.reason}"


class RecordValidationError(BankMarketingError, ValueError):
    """One or more records were refused before anything was sent."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors: tuple[RowError, ...] = tuple(errors)
        shown = "; ".join(str(e) for e in self.errors[:5])
        more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(shown + more)


def excerpt(body: str | bytes | None, limit: int = BODY_EXCERPT_CHARS) -> str:
    """A short, printable excerpt of a response body (or any text) for error messages.

    Only the first ``8 x limit`` bytes or characters are looked at (whitespace runs are collapsed, so a few more
    than ``limit`` are needed), never the whole body, which may be megabytes; an excerpt of a longer body ends
    in ``…``. Control characters show as U+FFFD.
    """
    if body is None:
        return ""
    scan = 8 * limit
    head = body[:scan]
    text = head.decode("utf-8", "replace") if isinstance(head, bytes) else head
    text = " ".join(text.split())
    if len(text) > limit or len(body) > scan:
        text = text[: limit - 1] + "…"
    return "".join(c if c.isprintable() else "\ufffd" for c in text)  # no control character reaches a terminal


class APIError(BankMarketingError):
    """The endpoint answered with an error, or could not be reached.

    ``status`` is ``None`` when no HTTP answer arrived (connection refused, reset, timed out). ``transient`` is
    set by the client when its retry policy judged the error "not now" rather than "not this request" (so a
    later attempt may succeed). ``retry_after`` is the server's ``Retry-After`` in seconds when the answer
    carried one: the one hint the retry policy waits for (on the errors it retries) and callers can read.
    ``deployment`` is the deployment that gave the answer, as the endpoint named it in its
    ``azureml-model-deployment`` header (``None`` when it did not say, or no answer came): with a traffic split,
    it tells which side of a blue/green roll-out failed.
    """

    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        body: str | bytes | None = None,
        retry_after: float | None = None,
        deployment: str | None = None,
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        self.deployment = deployment
        self.request_id = request_id
        self.body_excerpt = excerpt(body)
        self._message = message
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [self._message]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.request_id:
            parts.append(f"request id {self.request_id}")
        if self.deployment:
            parts.append(f"deployment {self.deployment}")
        if self.body_excerpt:
            parts.append(f"body: {self.body_excerpt}")
        return " | ".join(parts)

    def served_by(self, deployment: str | None) -> None:
        """Name the deployment that answered (for errors raised while decoding a 200, which learn it late)."""
        if deployment and not self.deployment:
            self.deployment = deployment
            self.args = (self._render(),)


class AuthenticationError(APIError):
    """401/403: the key or token was missing, wrong or expired."""


class ModelError(APIError):
    """The scoring script failed: 424 from Azure's front, 500 from the container, or a 200 carrying ``error``."""


class RateLimitedError(APIError):
    """429: too many pending requests; ``retry_after`` is the server's hint in seconds, if any."""


class RequestTimeoutError(APIError):
    """408 from the endpoint, or the client's own timeout or deadline ran out."""


class PayloadTooLargeError(APIError):
    """413: the request body is over the endpoint's size limit; send smaller batches."""


class ServiceUnavailableError(APIError):
    """502/503/504 or a connection failure: the service is not answering now."""


class UnexpectedResponseError(APIError):
    """An answer this client does not understand (wrong shape, not JSON, unexpected status)."""


class ResponseTooLargeError(UnexpectedResponseError):
    """The endpoint's answer was larger than the client reads for this request (decoded, or as it said or sent).

    Reading stopped at the cap (``limit`` bytes), so memory stayed bounded; the excerpt is the start of what came.
    Not retried: the same request would bring the same flood. See :mod:`bankmarketing_client.answers` for the caps
    and how to raise them.
    """

    def __init__(self, message: str, *, limit: int, **context: Any) -> None:
        self.limit = limit
        super().__init__(message, **context)


class RunStopped(BankMarketingError):
    """A file run stopped before its end on an error from the endpoint; its progress is saved for ``--resume``.

    ``cause`` is the error that stopped it (usually an :class:`APIError` whose retries ran out); the message says
    how far the run got. Ctrl-C and SIGTERM are not this error: they stop the run the way Python stops anything.
    """

    def __init__(self, message: str, cause: BankMarketingError) -> None:
        super().__init__(message)
        self.cause = cause


class DiskFullError(BankMarketingError):
    """A file run's output, spool or checkpoint could not be written for want of space (or quota).

    What was written before the last checkpoint is intact and the checkpoint true: free space, then ``resume``.
    """


class AzureManagementError(BankMarketingError):
    """A call to the Azure ML management plane (workspace, service, pipeline) failed or ran out of time."""


class StillRunning(AzureManagementError):
    """A run or job we were told to wait for had not finished when the wait ran out (it goes on in Azure).

    The work did not complete in the time given: a failure of the run, not a mistake in the command.
    """
