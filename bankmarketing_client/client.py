"""The scoring client: one core, an async face and a sync face.

Everything that does not wait lives once in :class:`_ClientCore`: settings, request building (ids, timeouts
clipped to the deadline), record validation, body encoding, status-to-exception mapping and answer decoding
(which failures are retried is decided in :mod:`bankmarketing_client.retry` alone). The two faces differ only
where waiting happens: which httpx client sends, how the concurrency limit is held (``asyncio.Semaphore`` or
``threading.BoundedSemaphore``) and how tenacity sleeps.
That is the shape of openai-python's base client, and it is why the sync face needs no event loop: it runs in
plain threads and in gevent greenlets (Locust), where ``asyncio.run`` per call would break.

Deadlines: the async face bounds each attempt with ``asyncio.timeout``; the sync face sets an attempt clock
that :mod:`bankmarketing_client.deadline` enforces below httpx. Both faces raise the same error in every phase
(connect, send, status line, headers, body).

Generated code: ``health`` and ``swagger`` are built from the operations codegen generates from the swagger
(``request_kwargs``; ``health``'s answer through ``parse_response``), around a generated ``Client`` holding our
httpx client, so a swagger change that breaks them fails mypy. ``score`` sends our validated records serialised
once by pydantic (the generated attrs body costs ~13x more per request) and decodes with
:mod:`bankmarketing_client.contract`, because the swagger's ``ServiceOutput`` is wrong for the ``data`` family.

Request ids: every HTTP attempt carries a fresh ``x-request-id`` (uuid4), and every logical call one
``x-ms-client-request-id`` kept across its retries, so a server log line can be matched to an attempt and the
attempts to their call. Errors report the server's ``x-ms-request-id``/``x-request-id`` when it sent one.
The client id is a uuid4 (36 characters of hex digits and ``-``), within Azure's rule for it: letters, digits,
``-`` and ``_``, at most 40 characters (:data:`CLIENT_REQUEST_ID_RULE`).

Deployments: ``deployment="green"`` sends ``azureml-model-deployment: green`` with every request, so a managed
online endpoint serves it from that deployment whatever its traffic split. Whichever deployment answered (the
endpoint names it in the same response header) is on every result and every :class:`APIError` (``deployment``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Generic, Self, TypeVar

import httpx

from bankmarketing_client import __version__, deadline
from bankmarketing_client.answers import (
    ACCEPT_ENCODING,
    ERROR_PREFIX,
    AnswerLimits,
    BoundedBody,
    IntermediateAnswersUnread,
)
from bankmarketing_client.auth import (
    Secret,
    TokenAuth,
    TokenCredentialLike,
    TokenProvider,
    build_auth,
    check_credential_url,
    credential_provider,
)
from bankmarketing_client.contract import (
    Contract,
    Method,
    Prediction,
    decode_results,
    decode_scores,
    detect_contract,
    encode,
)
from bankmarketing_client.contract import to_predictions as _to_predictions
from bankmarketing_client.errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    ModelError,
    PayloadTooLargeError,
    RateLimitedError,
    RequestTimeoutError,
    ResponseTooLargeError,
    ServiceUnavailableError,
    UnexpectedResponseError,
)
from bankmarketing_client.retry import (
    MODEL_STATUS_HEADER,
    RUN_FAILED_HEADER,
    RetryableError,
    RetryPolicy,
    overrun_error,
    parse_retry_after,
    transport_error,
)
from bankmarketing_client.urls import endpoint_urls, redact_url

if TYPE_CHECKING:
    from bankmarketing_client._generated.inputs import Client as GeneratedClient
    from bankmarketing_client.features import BankMarketingRecord

logger = logging.getLogger("bankmarketing_client.client")

ENV_SCORING_URI: Final = "BANKMARKETING_SCORING_URI"
ENV_API_KEY: Final = "BANKMARKETING_API_KEY"
ENV_SECONDARY_KEY: Final = "BANKMARKETING_SECONDARY_KEY"
ENV_DEPLOYMENT: Final = "BANKMARKETING_DEPLOYMENT"
#: Picks a deployment on the way in; names the one that answered on the way out (Azure's header, both directions).
DEPLOYMENT_HEADER: Final = "azureml-model-deployment"
#: Azure's deployment names: a letter, then letters, digits and ``-``; 3 to 32 characters in Azure, from 1 here so
#: that any name the local endpoint accepts works. Nothing else can reach the header (no space, no line break).
DEPLOYMENT_NAME_RULE: Final = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,31}")
#: Azure's rule for ``x-ms-client-request-id`` (it cuts longer ones): letters, digits, ``-`` and ``_``, 1 to 40.
CLIENT_REQUEST_ID_RULE: Final = re.compile(r"[A-Za-z0-9_-]{1,40}")
DEFAULT_MAX_CONCURRENCY: Final = 8
USER_AGENT: Final = f"bankmarketing-client/{__version__} python-httpx/{httpx.__version__}"

#: Headers about the body's encoding on the wire, which do not describe a body once decoded.
_CODING_HEADERS: Final = frozenset({"content-encoding", "content-length", "transfer-encoding"})
#: The httpx client a face sends with.
H = TypeVar("H", httpx.Client, httpx.AsyncClient)

#: What ``predict`` accepts: validated records, or mappings using the wire names (``emp.var.rate``).
Records = Iterable["Mapping[str, object] | BankMarketingRecord"]


@dataclass(frozen=True)
class Timeouts:
    """Seconds allowed to connect, to wait for each read, and for one whole attempt (``total``).

    ``total`` bounds an attempt from connecting to the last byte of the answer, so a server that trickles its
    status line, headers or body cannot stretch it; the retry policy's ``deadline`` bounds the call across
    attempts, and every attempt is cut to what is left of it. Both faces enforce this in every phase (the sync
    face with a user-supplied ``httpx.Client`` over a custom transport: see :class:`ScoringClient`).
    """

    connect: float = 5.0
    read: float = 30.0
    total: float | None = 60.0

    def __post_init__(self) -> None:
        if self.connect <= 0 or self.read <= 0 or (self.total is not None and self.total <= 0):
            raise ConfigurationError("timeouts must be positive")


@dataclass(frozen=True)
class ScoreResult:
    """A scoring call in full: the predictions, the ids to quote to support, and the raw body as received."""

    predictions: list[Prediction]
    status: int
    request_id: str | None
    client_request_id: str
    body: bytes = field(repr=False)
    #: The deployment that answered, as the endpoint named it (``None`` when it did not say).
    deployment: str | None = None


@dataclass(frozen=True)
class ColumnScores:
    """The answer to :meth:`AsyncScoringClient.score_json`: labels and P(yes) as columns (NaN without proba),
    the ids to quote to support, and how long the answered attempt took (for the batch tuner)."""

    labels: list[str] = field(repr=False)
    probabilities: list[float] = field(repr=False)
    request_id: str | None
    client_request_id: str
    elapsed: float
    deployment: str | None = None


@dataclass(frozen=True)
class RawResponse:
    """The answer to :meth:`request`: status, headers and body, uninterpreted (errors still raise)."""

    status: int
    headers: httpx.Headers = field(repr=False)
    content: bytes = field(repr=False)
    request_id: str | None
    client_request_id: str
    deployment: str | None = None

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON (one level: a double-encoded body comes back as a string)."""
        return json.loads(self.content)


@dataclass
class _Operation:
    """One logical call: what to send, its correlation id and when it started (for the deadline).

    ``retry`` overrides the client's policy for this call (the batch engine's more patient one, with its hook).
    ``answer_limit`` is the most of a 2xx answer's decoded body read (:class:`~bankmarketing_client.answers.AnswerLimits`).
    """

    method: str
    url: str | httpx.URL
    answer_limit: int
    content: bytes | None = None
    params: dict[str, str] | None = None
    retry: RetryPolicy | None = None
    client_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, slots=True)
class _Answer:
    """An answer as read under its cap: status, headers, the decoded body, and the seconds from sending the
    request to closing the answer (for the batch tuner)."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    elapsed: float

    def json(self) -> Any:
        return json.loads(self.content)


def _where(request: httpx.Request) -> str:
    """``host:port`` of a request, for messages (never the path or query, which could carry secrets)."""
    return f"{request.url.host}:{request.url.port}" if request.url.port else request.url.host


def _userinfo_auth(url: httpx.URL) -> httpx.Auth | None:
    """What httpx would have made of ``user:password@`` in the URI (Basic auth, used only when no key, token or
    auth is given), so that the URI itself can be kept free of it: a URL with userinfo would otherwise show the
    credential in httpx's own ``HTTP Request: POST ...`` log line, in ``Response.url`` and in messages."""
    if not url.userinfo:
        return None
    return httpx.BasicAuth(url.username, url.password)


def _server_request_id(headers: httpx.Headers) -> str | None:
    value: str | None = headers.get("x-ms-request-id") or headers.get("x-request-id")
    return value


def _served_by(headers: httpx.Headers) -> str | None:
    """The deployment the endpoint says answered (``None`` if it does not say, like a bare container)."""
    value: str | None = headers.get(DEPLOYMENT_HEADER)
    return value or None


def check_deployment(name: str) -> str:
    """``name`` if it can be a deployment's name (and so a header value); else ConfigurationError naming it."""
    if not isinstance(name, str) or not DEPLOYMENT_NAME_RULE.fullmatch(name):
        raise ConfigurationError(
            f"deployment name {name!r} must start with a letter and hold only letters, digits and '-' "
            "(at most 32 characters)"
        )
    return name


class _ClientCore:
    """Settings and all non-waiting logic shared by both faces (see the module docstring)."""

    def __init__(
        self,
        *,
        scoring_uri: str | None,
        api_key: str | Secret | None,
        secondary_key: str | Secret | None,
        token_provider: TokenProvider | None,
        auth: httpx.Auth | None,
        contract: str | Contract | None,
        timeouts: Timeouts | None,
        retry: RetryPolicy | None,
        max_concurrency: int,
        allow_unknown_categories: bool,
        use_env: bool,
        deployment: str | None = None,
        credential: TokenCredentialLike | None = None,
        allow_insecure_http: bool = False,
        answer_limits: AnswerLimits | None = None,
    ) -> None:
        if credential is not None:
            if api_key is not None or secondary_key is not None or token_provider is not None or auth is not None:
                raise ConfigurationError("give a credential, keys, a token provider or auth, not several")
            token_provider = credential_provider(credential)
        if scoring_uri is None and use_env:
            scoring_uri = os.environ.get(ENV_SCORING_URI) or None
        if not scoring_uri:
            raise ConfigurationError(f"no scoring URI: pass scoring_uri or set {ENV_SCORING_URI}")
        urls = endpoint_urls(scoring_uri, what="the scoring URI")
        try:
            url = httpx.URL(urls.scoring_url)
        except httpx.InvalidURL:  # its message may quote the URI, and a key may have been pasted there
            raise ConfigurationError("the scoring URI is not a valid http(s) URL") from None
        userinfo_auth = _userinfo_auth(url)
        url = url.copy_with(userinfo=b"")  # no URL the client builds, logs or shows carries a credential
        if auth is not None and (api_key is not None or secondary_key is not None or token_provider is not None):
            raise ConfigurationError("give auth, keys or a token provider, not several")
        if use_env and api_key is None and token_provider is None and auth is None:
            api_key = os.environ.get(ENV_API_KEY) or None
            if secondary_key is None:
                secondary_key = os.environ.get(ENV_SECONDARY_KEY) or None
        if max_concurrency < 1:
            raise ConfigurationError("max_concurrency must be at least 1")
        self._scoring_url = url  # parsed once, reused by every request
        self.scoring_url = str(url)
        self.base_url = str(url.copy_with(path=urls.base_path))
        self.auth = auth or build_auth(api_key, secondary_key, token_provider) or userinfo_auth
        if self.auth is not None:  # before any token is fetched or anything sent; base and scoring share the origin
            check_credential_url(self.scoring_url, allow_insecure_http=allow_insecure_http)
        #: What requests are sent with: the auth flow, its intermediate answers (a 401 before the other key) unread.
        self.send_auth = None if self.auth is None else IntermediateAnswersUnread(self.auth)
        self.answer_limits = answer_limits or AnswerLimits()
        if isinstance(contract, str):
            self.contract: Contract | None = None if contract.strip().lower() == "auto" else Contract.of(contract)
        else:
            self.contract = contract
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self.max_concurrency = max_concurrency
        self.allow_unknown_categories = allow_unknown_categories
        if deployment is None and use_env:
            deployment = os.environ.get(ENV_DEPLOYMENT) or None
        #: The deployment every request asks for (``None``: the endpoint's traffic split decides).
        self.deployment = None if deployment is None else check_deployment(deployment)

    def __repr__(self) -> str:
        family = self.contract.family if self.contract else "auto"
        text = f"scoring_uri={redact_url(self.scoring_url)!r}, auth={self.auth!r}, contract={family!r}"
        return text + (f", deployment={self.deployment!r}" if self.deployment else "")

    # -- connection settings ---------------------------------------------------------------------------------

    def limits(self) -> httpx.Limits:
        """Pool as many keep-alive connections as requests may run at once, so none is reopened needlessly."""
        return httpx.Limits(
            max_connections=self.max_concurrency,
            max_keepalive_connections=self.max_concurrency,
            keepalive_expiry=30.0,
        )

    def client_timeout(self) -> httpx.Timeout:
        t = self.timeouts
        return httpx.Timeout(connect=t.connect, read=t.read, write=t.read, pool=t.total or t.read)

    # -- building requests -----------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.scoring_url if path == "score" else self.base_url + path

    def score_operation(
        self, records: Records, *, contract: Contract, proba: bool, start_row: int
    ) -> tuple[_Operation, int]:
        """Validate (nothing is sent if a row is bad), build and encode the body; also the row count."""
        from bankmarketing_client.features import validate_records

        method: Method = "predict_proba" if proba else "predict"
        contract.check_method(method)

        validated = validate_records(
            records, start_row=start_row, allow_unknown_categories=self.allow_unknown_categories
        )
        if not validated:
            raise ConfigurationError("no records to score")
        body = contract.body_bytes(contract.encode_records(validated), method=method, rows=len(validated))
        limit = self.answer_limits.for_records(len(validated))
        return _Operation("POST", self._scoring_url, limit, content=body), len(validated)

    def policy(self, op: _Operation) -> RetryPolicy:
        """The retry policy of ``op``: its own if it carries one, else the client's."""
        return op.retry or self.retry

    def slot_budget(self, op: _Operation) -> float | None:
        """How long ``op`` may wait for a free concurrency slot: what is left of its deadline (``None``: no limit)."""
        remaining = self.policy(op).remaining(op.started)
        return None if remaining is None else max(0.0, remaining)

    def deadline_error(self, op: _Operation) -> RequestTimeoutError:
        return RequestTimeoutError(
            f"deadline of {self.policy(op).deadline:g} s exceeded before the request could be sent",
            request_id=op.client_request_id,
        )

    def attempt_budget(self, op: _Operation) -> float | None:
        """Seconds the next attempt of ``op`` may take in all: ``Timeouts.total`` cut to what is left of the
        deadline (``None``: no bound but the per-phase timeouts)."""
        cap = self.timeouts.total
        remaining = self.policy(op).remaining(op.started)
        if remaining is not None:
            if remaining <= 0:
                raise self.deadline_error(op)
            cap = remaining if cap is None else min(cap, remaining)
        return cap

    def overrun_error(self, request: httpx.Request, budget: float) -> RetryableError:
        """The attempt took its whole budget: :func:`~bankmarketing_client.retry.overrun_error` for ``request``."""
        return overrun_error(where=_where(request), budget=budget, request_id=request.headers.get("x-request-id"))

    def build_request(self, op: _Operation, cap: float | None) -> httpx.Request:
        """A fresh request for the next attempt of ``op``, each phase's timeout clipped to ``cap``."""
        t = self.timeouts
        timeout = httpx.Timeout(
            connect=min(t.connect, cap) if cap else t.connect,
            read=min(t.read, cap) if cap else t.read,
            write=min(t.read, cap) if cap else t.read,
            pool=cap if cap else t.read,
        )
        headers = {
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
            "User-Agent": USER_AGENT,
            "x-request-id": str(uuid.uuid4()),
            "x-ms-client-request-id": op.client_request_id,
        }
        if op.content is not None:
            headers["Content-Type"] = "application/json"
        if self.deployment is not None:
            headers[DEPLOYMENT_HEADER] = self.deployment
        return httpx.Request(
            op.method,
            op.url,
            params=op.params,
            content=op.content,
            headers=headers,
            extensions={"timeout": timeout.as_dict()},
        )

    # -- reading answers -------------------------------------------------------------------------------------

    def transport_error(self, request: httpx.Request, exc: httpx.RequestError) -> Exception:
        """No usable HTTP answer: classified (and wrapped when retried) by the policy's module, not here."""
        return transport_error(
            exc,
            where=_where(request),
            target=redact_url(self.scoring_url),
            request_id=request.headers.get("x-request-id"),
        )

    def body_reader(self, op: _Operation, response: httpx.Response) -> BoundedBody:
        """Where ``response``'s body is read into: up to ``op``'s cap for a 2xx, a prefix of an error answer."""
        if 200 <= response.status_code < 300:
            return BoundedBody(response.headers, op.answer_limit)
        return BoundedBody(response.headers, ERROR_PREFIX, truncate=True)

    def answer(
        self, op: _Operation, request: httpx.Request, response: httpx.Response, body: BoundedBody, started: float
    ) -> _Answer:
        """The answer as read; :class:`ResponseTooLargeError` if it went past its cap (not retried: the same request
        brings the same answer, and its flood would only be read again)."""
        headers = response.headers
        if body.over:
            raise ResponseTooLargeError(
                f"the endpoint's answer is larger than {op.answer_limit:,} bytes, the most read for this request "
                "(see AnswerLimits; --max-answer-bytes on the command line); stopped reading",
                limit=op.answer_limit,
                status=response.status_code,
                request_id=_server_request_id(headers) or request.headers.get("x-request-id"),
                body=body.content,
                deployment=_served_by(headers),
            )
        try:
            elapsed = response.elapsed.total_seconds()
        except RuntimeError:  # a response a custom transport built whole, never closed through httpx
            elapsed = time.monotonic() - started
        return _Answer(response.status_code, headers, body.content, elapsed)

    def check(self, op: _Operation, request: httpx.Request, response: _Answer) -> None:
        """Return for a 2xx; otherwise raise the mapped error, wrapped for retry when the policy says so."""
        status = response.status_code
        if 200 <= status < 300:
            return
        headers = response.headers
        request_id = _server_request_id(headers) or request.headers.get("x-request-id")
        error = self.status_error(status, headers, response.content, request_id, parse_retry_after(headers))
        if self.policy(op).should_retry_status(status, headers):
            raise RetryableError(error)
        raise error

    def status_error(
        self,
        status: int,
        headers: httpx.Headers,
        body: bytes,
        request_id: str | None,
        retry_after: float | None,
    ) -> APIError:
        common: dict[str, Any] = {
            "status": status,
            "request_id": request_id,
            "body": body,
            "retry_after": retry_after,
            "deployment": _served_by(headers),
        }
        if status in (401, 403):
            if status == 401 and isinstance(self.auth, TokenAuth):  # its flow sent a newer token after the first 401
                message = "the endpoint refused the token, and a newly fetched one too (expired, or not for it?)"
                return AuthenticationError(message, **common)
            return AuthenticationError("the endpoint refused the key or token", **common)
        if status == 404 and self.deployment is not None:
            return UnexpectedResponseError(f"the endpoint has no deployment named {self.deployment!r}", **common)
        if status == 404:
            return UnexpectedResponseError(
                "not found: a wrong scoring URI, or no deployment takes traffic (then pick one with deployment=)",
                **common,
            )
        if status == 408:
            return RequestTimeoutError("the endpoint timed the request out", **common)
        if status == 413:
            return PayloadTooLargeError("the request body is too large; send fewer records per call", **common)
        if status == 424:
            model_status = headers.get(MODEL_STATUS_HEADER, "?")
            reason = headers.get("ms-azureml-model-error-reason", "no reason given")
            if headers.get(RUN_FAILED_HEADER, "").strip().lower() == "true":
                message = f"the scoring script failed on this input (container status {model_status}: {reason})"
                return ModelError(message + "; the detail is only in the deployment's log", **common)
            if model_status.startswith("4"):
                return ModelError(
                    f"the scoring container refused the request (container status {model_status}: {reason})", **common
                )
            return ModelError(f"the model failed (container status {model_status}: {reason})", **common)
        if status == 429:
            return RateLimitedError("too many requests pending at the endpoint", **common)
        if status == 500 and headers.get(RUN_FAILED_HEADER, "").strip().lower() == "true":
            return ModelError("the scoring script failed on this input; the detail is only in its log", **common)
        if status == 500:
            return ModelError("the scoring container failed", **common)
        if status in (502, 503, 504):
            return ServiceUnavailableError("the endpoint is not available now", **common)
        if 300 <= status < 400 and "location" in headers:
            return UnexpectedResponseError(
                f"the endpoint redirects to {redact_url(headers['location'])}; use that URI as the scoring URI",
                **common,
            )
        return UnexpectedResponseError("unexpected answer from the endpoint", **common)

    def score_result(
        self, op: _Operation, response: _Answer, expected: int, *, proba: bool, start_row: int
    ) -> ScoreResult:
        request_id = _server_request_id(response.headers)
        deployment = _served_by(response.headers)
        context: dict[str, Any] = {"status": response.status_code, "request_id": request_id}
        try:
            results = decode_results(response.content, **context)
            predictions = _to_predictions(
                results, expected, proba=proba, start_row=start_row, body=response.content, **context
            )
        except APIError as exc:
            exc.served_by(deployment)
            raise
        return ScoreResult(
            predictions, response.status_code, request_id, op.client_request_id, response.content, deployment
        )

    def raw_result(self, op: _Operation, response: _Answer) -> RawResponse:
        return RawResponse(
            response.status_code,
            response.headers,
            response.content,
            _server_request_id(response.headers),
            op.client_request_id,
            _served_by(response.headers),
        )

    def generated_operation(self, kwargs: dict[str, Any], answer_limit: int) -> _Operation:
        """What a generated operation's ``request_kwargs`` says to send (method, path under the base, query), as
        one of our operations: sent by our httpx client with our auth, ids, deadline, retries and answer cap."""
        params = {str(k): str(v) for k, v in (kwargs.get("params") or {}).items()} or None
        url = self.base_url + str(kwargs["url"]).lstrip("/")
        return _Operation(str(kwargs["method"]).upper(), url, answer_limit, params=params)

    def health_operation(self) -> _Operation:
        from bankmarketing_client._generated.inputs.api.default import service_health_check

        return self.generated_operation(service_health_check.request_kwargs(), self.answer_limits.health)

    @staticmethod
    def health_response(answer: _Answer) -> httpx.Response:
        """``answer`` as the httpx response the generated health parser reads (the body already decoded)."""
        kept = [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in _CODING_HEADERS]
        return httpx.Response(answer.status_code, headers=kept, content=answer.content)

    def swagger_operation(self, version: str | int | None) -> _Operation:
        # Imported on first use: the generated package (attrs models) is not needed to import or score.
        from bankmarketing_client._generated.inputs.api.default import get_swagger_spec
        from bankmarketing_client._generated.inputs.models.get_swagger_spec_version import GetSwaggerSpecVersion
        from bankmarketing_client._generated.inputs.types import UNSET

        limit = self.answer_limits.swagger
        if version is None:
            return self.generated_operation(get_swagger_spec.request_kwargs(version=UNSET), limit)
        try:
            typed = GetSwaggerSpecVersion(int(version))
        except ValueError:
            versions = ", ".join(str(v.value) for v in GetSwaggerSpecVersion)
            raise ConfigurationError(f"the swagger version must be one of {versions}, not {version!r}") from None
        return self.generated_operation(get_swagger_spec.request_kwargs(version=typed), limit)

    def swagger_document(self, response: _Answer) -> dict[str, Any]:
        try:
            spec = response.json()
        except (ValueError, RecursionError):  # not JSON, or nested deeper than Python's parser goes
            spec = None
        if not isinstance(spec, dict):
            raise UnexpectedResponseError(
                "the swagger document is not a JSON object",
                status=response.status_code,
                request_id=_server_request_id(response.headers),
                body=response.content,
            )
        return spec

    def raw_operation(self, payload: object, path: str) -> _Operation:
        content = payload if isinstance(payload, bytes) else encode(payload)
        return _Operation("POST", self.url(path), self.answer_limits.for_body(len(content)), content=content)

    def columns_operation(
        self, records_json: bytes, rows: int, *, contract: Contract, proba: bool, retry: RetryPolicy | None
    ) -> _Operation:
        method: Method = "predict_proba" if proba else "predict"
        body = contract.body_bytes(records_json, method=method, rows=rows)
        limit = self.answer_limits.for_records(rows)
        return _Operation("POST", self._scoring_url, limit, content=body, retry=retry)

    def columns_result(self, op: _Operation, response: _Answer, expected: int, *, proba: bool) -> ColumnScores:
        request_id = _server_request_id(response.headers)
        deployment = _served_by(response.headers)
        try:
            scores = decode_scores(
                response.content, expected, proba=proba, status=response.status_code, request_id=request_id
            )
        except APIError as exc:
            exc.served_by(deployment)
            raise
        return ColumnScores(
            scores.labels, scores.probabilities, request_id, op.client_request_id, response.elapsed, deployment
        )


def _unwrap(exc: RetryableError) -> APIError:
    """The error a caller sees once retries are over, chained to the transport error if any."""
    error = exc.error
    error.__cause__ = exc.__cause__
    error.__suppress_context__ = True
    return error


class _ClientFace(Generic[H]):
    """What both faces share: the constructor, settings and repr, around one :class:`_ClientCore`."""

    def __init__(
        self,
        scoring_uri: str | None = None,
        api_key: str | Secret | None = None,
        *,
        secondary_key: str | Secret | None = None,
        token_provider: TokenProvider | None = None,
        auth: httpx.Auth | None = None,
        contract: str | Contract | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        allow_unknown_categories: bool = False,
        http_client: H | None = None,
        use_env: bool = True,
        deployment: str | None = None,
        credential: TokenCredentialLike | None = None,
        allow_insecure_http: bool = False,
        answer_limits: AnswerLimits | None = None,
    ) -> None:
        self._core = _ClientCore(
            scoring_uri=scoring_uri,
            api_key=api_key,
            secondary_key=secondary_key,
            token_provider=token_provider,
            auth=auth,
            contract=contract,
            timeouts=timeouts,
            retry=retry,
            max_concurrency=max_concurrency,
            allow_unknown_categories=allow_unknown_categories,
            use_env=use_env,
            deployment=deployment,
            credential=credential,
            allow_insecure_http=allow_insecure_http,
            answer_limits=answer_limits,
        )
        self._open(http_client)

    def _open(self, http_client: H | None) -> None:
        """Set ``_http`` (the given client or a new one sized by the core) and ``_semaphore``."""
        raise NotImplementedError

    @classmethod
    def from_env(cls, **kwargs: Any) -> Self:
        """Built from ``$BANKMARKETING_SCORING_URI``, ``$BANKMARKETING_API_KEY`` and
        ``$BANKMARKETING_DEPLOYMENT`` (keywords win)."""
        return cls(use_env=True, **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._core!r})"

    @property
    def scoring_uri(self) -> str:
        return self._core.scoring_url

    @property
    def contract(self) -> Contract | None:
        """The contract in use: set explicitly, or detected on first use (``None`` until then)."""
        return self._core.contract

    @property
    def deployment(self) -> str | None:
        """The deployment every request asks for (``None``: the endpoint's traffic split decides)."""
        return self._core.deployment


class AsyncScoringClient(_ClientFace[httpx.AsyncClient]):
    """Async client for a bank-marketing scoring endpoint (``async with AsyncScoringClient(...) as c:``).

    Args (the same for :class:`ScoringClient`, which takes an ``httpx.Client``):
        scoring_uri: the endpoint's scoring URI (``.../score``); default ``$BANKMARKETING_SCORING_URI``.
        api_key, secondary_key: the deployment's keys; default ``$BANKMARKETING_API_KEY`` and
            ``$BANKMARKETING_SECONDARY_KEY``. The secondary is tried on a 401 (rotation without downtime).
        token_provider: instead of keys, a callable returning ``(token, expires_on)``; refreshed before
        expiry. credential: instead of keys, an azure-core ``TokenCredential`` (``aad_token`` endpoints;
        scope ``https://ml.azure.com/.default``), as Azure SDK clients take one. contract: ``"inputs"``, ``"data"``, ``"data-method"``, or ``None``/``"auto"`` to read the
        swagger. timeouts: connect, read and per-attempt timeouts.
        retry: the :class:`RetryPolicy` (attempts, overall deadline, waits).
        max_concurrency: requests in flight at once (also the connection pool size).
        allow_unknown_categories: let categories never seen in training through validation.
        http_client: an httpx client to use instead of a new one (its pool and timeouts then apply).
        use_env: fall back to the environment variables above for missing settings.
        deployment: send every request to this deployment (``azureml-model-deployment``), whatever the
            endpoint's traffic split; default ``$BANKMARKETING_DEPLOYMENT``, else the split decides.
        allow_insecure_http: send the key or token to an ``http://`` URI that is not loopback. Without it such a
            client is refused (``ConfigurationError``) before anything is sent: a key over plain http can be read
            by anyone on the path. Only for a private network you trust; ``https://`` and loopback need nothing.
        answer_limits: the most of an answer read (:class:`~bankmarketing_client.answers.AnswerLimits`; default
            1 MiB + 512 bytes per record sent, 64 KiB for health, 8 MiB for the swagger); a larger answer raises
            :class:`~bankmarketing_client.errors.ResponseTooLargeError`, unretried, with memory still bounded.
    """

    def _open(self, http_client: httpx.AsyncClient | None) -> None:
        core = self._core
        self._http = http_client or httpx.AsyncClient(timeout=core.client_timeout(), limits=core.limits())
        self._semaphore = asyncio.Semaphore(core.max_concurrency)

    async def _send(self, op: _Operation) -> _Answer:
        try:
            async for attempt in self._core.policy(op).async_retrying():
                with attempt:
                    if self._semaphore.locked():  # only a wait for a slot needs a timer
                        try:
                            async with asyncio.timeout(self._core.slot_budget(op)):
                                await self._semaphore.acquire()
                        except TimeoutError:
                            raise self._core.deadline_error(op) from None
                    else:
                        await self._semaphore.acquire()
                    try:
                        budget = self._core.attempt_budget(op)  # after the wait: what is left of the deadline
                        request = self._core.build_request(op, budget)
                        try:
                            async with asyncio.timeout(budget):  # sending and reading the whole answer
                                response = await self._exchange(op, request)
                        except httpx.RequestError as exc:
                            raise self._core.transport_error(request, exc) from exc
                        except TimeoutError:
                            assert budget is not None  # asyncio.timeout(None) never expires
                            raise self._core.overrun_error(request, budget) from None
                    finally:
                        self._semaphore.release()
                    self._core.check(op, request, response)
                    return response
        except RetryableError as exc:
            raise _unwrap(exc) from exc.__cause__
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _exchange(self, op: _Operation, request: httpx.Request) -> _Answer:
        """Send ``request`` and read its answer as a stream, under ``op``'s cap (see :mod:`.answers`)."""
        started = time.monotonic()
        response = await self._http.send(request, auth=self._core.send_auth, stream=True)
        try:
            body = self._core.body_reader(op, response)
            if response.is_stream_consumed:  # a transport that builds whole responses read it already
                body.feed_decoded(response.content)
            else:
                async for chunk in response.aiter_raw():
                    body.feed(chunk)
                    if body.done:
                        break
        finally:
            await response.aclose()
        return self._core.answer(op, request, response, body, started)

    async def health(self) -> str:
        """The endpoint's liveness answer (``"Healthy"``); raises if it is down or refuses the key."""
        from bankmarketing_client._generated.inputs.api.default import service_health_check

        response = self._core.health_response(await self._send(self._core.health_operation()))
        return service_health_check.parse_response(client=self._generated, response=response).strip().strip('"')

    @functools.cached_property
    def _generated(self) -> GeneratedClient:
        """The generated client around our httpx client (what the generated operations' parsers are given)."""
        from bankmarketing_client._generated.inputs import Client

        return Client(base_url=self._core.base_url).set_async_httpx_client(self._http)

    async def swagger(self, version: str | int | None = None) -> dict[str, Any]:
        """The endpoint's swagger (2.0 by default; ``version=3`` gives OpenAPI 3.0.3)."""
        op = self._core.swagger_operation(version)
        return self._core.swagger_document(await self._send(op))

    async def detect_contract(self) -> Contract:
        """The contract in use, read from the swagger once when not set explicitly."""
        if self._core.contract is None:
            self._core.contract = detect_contract(await self.swagger())
        return self._core.contract

    async def score(self, records: Records, *, proba: bool = False, start_row: int = 1) -> ScoreResult:
        """Validate, send and decode one batch; the result keeps the raw body and the request ids."""
        contract = await self.detect_contract()
        op, count = self._core.score_operation(records, contract=contract, proba=proba, start_row=start_row)
        response = await self._send(op)
        return self._core.score_result(op, response, count, proba=proba, start_row=start_row)

    async def predict(self, records: Records, *, start_row: int = 1) -> list[Prediction]:
        """One label per record, in input order; bad records raise RecordValidationError, unsent."""
        return (await self.score(records, start_row=start_row)).predictions

    async def predict_proba(self, records: Records, *, start_row: int = 1) -> list[Prediction]:
        """Labels with the probability of ``"yes"`` (``inputs`` endpoints only)."""
        return (await self.score(records, proba=True, start_row=start_row)).predictions

    async def score_json(
        self, records_json: bytes, rows: int, *, proba: bool = False, retry: RetryPolicy | None = None
    ) -> ColumnScores:
        """Score ``rows`` records already validated and serialised as one JSON array (the batch engine's fast path:
        no Python object per record on the way out or back). ``retry`` replaces the client's policy for this call.

        The typed :meth:`score` validates record by record with pydantic (~47k records/s), the batch scorer's
        columnar check and Arrow encoding several times faster; answers are decoded by
        :func:`~bankmarketing_client.contract.decode_scores`, the same rules as :meth:`score`.
        """
        contract = await self.detect_contract()
        op = self._core.columns_operation(records_json, rows, contract=contract, proba=proba, retry=retry)
        return self._core.columns_result(op, await self._send(op), rows, proba=proba)

    async def request(self, payload: object, *, path: str = "score") -> RawResponse:
        """POST any JSON payload (or bytes) with auth and retries; the body comes back uninterpreted."""
        return self._core.raw_result(op := self._core.raw_operation(payload, path), await self._send(op))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class ScoringClient(_ClientFace[httpx.Client]):
    """Blocking client over the same core: safe in threads and gevent greenlets (Locust), no event loop.

    Constructor arguments: as :class:`AsyncScoringClient`, with an ``httpx.Client`` for ``http_client``.
    Deadlines hold in every phase of an attempt, as on the async face, by a wrapper under httpx's connection
    pools (see the module docstring). A given ``httpx.Client`` gets the wrapper too, inert for its other
    requests; if its transport is not an ``httpx.HTTPTransport`` (a custom one), the wrapper cannot be
    installed and the deadline is checked only between chunks of the body: a server trickling its status
    line and headers is then bounded per read (``Timeouts.read``), not per attempt.
    """

    def _open(self, http_client: httpx.Client | None) -> None:
        core = self._core
        self._http = http_client or httpx.Client(timeout=core.client_timeout(), limits=core.limits())
        self._semaphore = threading.BoundedSemaphore(core.max_concurrency)
        self._deadline_below = deadline.install(self._http)
        if not self._deadline_below:
            logger.debug("custom httpx transport: the deadline is checked between chunks of the body only")

    def _send(self, op: _Operation) -> _Answer:
        try:
            for attempt in self._core.policy(op).retrying():
                with attempt:
                    if not self._semaphore.acquire(timeout=self._core.slot_budget(op)):
                        raise self._core.deadline_error(op)
                    try:
                        budget = self._core.attempt_budget(op)  # after the wait: what is left of the deadline
                        request = self._core.build_request(op, budget)
                        try:
                            response = self._send_within(op, request, budget)
                        except httpx.RequestError as exc:
                            raise self._core.transport_error(request, exc) from exc
                    finally:
                        self._semaphore.release()
                    self._core.check(op, request, response)
                    return response
        except RetryableError as exc:
            raise _unwrap(exc) from exc.__cause__
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _send_within(self, op: _Operation, request: httpx.Request, budget: float | None) -> _Answer:
        """Send and read the whole answer (as a stream, under ``op``'s cap) within ``budget`` seconds, or raise the
        async face's overrun error.

        A blocking socket read cannot be interrupted without a thread (which gevent and Locust would not
        welcome). Instead the attempt's clock is set for :mod:`bankmarketing_client.deadline`, which cuts every
        connect, read and write below httpx to the time left; a timeout once the budget is spent is the overrun.
        Where that backend could not be installed (a custom transport), the clock is at least checked between
        chunks of the body.
        """
        clock = None if budget is None else deadline.AttemptClock(budget)
        token = None if clock is None else deadline.ATTEMPT.set(clock)
        try:
            return self._exchange(op, request, clock)
        except httpx.TimeoutException:
            if clock is not None and (clock.binding or clock.expired()):  # the budget ran out, not one phase's own
                assert budget is not None
                raise self._core.overrun_error(request, budget) from None
            raise
        finally:
            if token is not None:
                deadline.ATTEMPT.reset(token)

    def _exchange(self, op: _Operation, request: httpx.Request, clock: deadline.AttemptClock | None) -> _Answer:
        started = time.monotonic()
        streamed = self._http.send(request, auth=self._core.send_auth, stream=True)
        check_clock = clock is not None and not self._deadline_below
        try:
            body = self._core.body_reader(op, streamed)
            if streamed.is_stream_consumed:  # a transport that builds whole responses read it already
                body.feed_decoded(streamed.content)
            else:
                for chunk in streamed.iter_raw():
                    if check_clock and clock is not None and clock.expired():
                        raise httpx.ReadTimeout("the attempt's time budget is spent", request=request)
                    body.feed(chunk)
                    if body.done:
                        break
            if check_clock and clock is not None and clock.expired():
                raise httpx.ReadTimeout("the attempt's time budget is spent", request=request)
        finally:
            streamed.close()
        return self._core.answer(op, request, streamed, body, started)

    def health(self) -> str:
        """The endpoint's liveness answer (``"Healthy"``); raises if it is down or refuses the key."""
        from bankmarketing_client._generated.inputs.api.default import service_health_check

        response = self._core.health_response(self._send(self._core.health_operation()))
        return service_health_check.parse_response(client=self._generated, response=response).strip().strip('"')

    @functools.cached_property
    def _generated(self) -> GeneratedClient:
        """The generated client around our httpx client (what the generated operations' parsers are given)."""
        from bankmarketing_client._generated.inputs import Client

        return Client(base_url=self._core.base_url).set_httpx_client(self._http)

    def swagger(self, version: str | int | None = None) -> dict[str, Any]:
        """The endpoint's swagger (2.0 by default; ``version=3`` gives OpenAPI 3.0.3)."""
        return self._core.swagger_document(self._send(self._core.swagger_operation(version)))

    def detect_contract(self) -> Contract:
        """The contract in use, read from the swagger once when not set explicitly."""
        if self._core.contract is None:
            self._core.contract = detect_contract(self.swagger())
        return self._core.contract

    def score(self, records: Records, *, proba: bool = False, start_row: int = 1) -> ScoreResult:
        """Validate, send and decode one batch; the result keeps the raw body and the request ids."""
        contract = self.detect_contract()
        op, count = self._core.score_operation(records, contract=contract, proba=proba, start_row=start_row)
        return self._core.score_result(op, self._send(op), count, proba=proba, start_row=start_row)

    def predict(self, records: Records, *, start_row: int = 1) -> list[Prediction]:
        """One label per record, in input order; bad records raise RecordValidationError, unsent."""
        return self.score(records, start_row=start_row).predictions

    def predict_proba(self, records: Records, *, start_row: int = 1) -> list[Prediction]:
        """Labels with the probability of ``"yes"`` (``inputs`` endpoints only)."""
        return self.score(records, proba=True, start_row=start_row).predictions

    def request(self, payload: object, *, path: str = "score") -> RawResponse:
        """POST any JSON payload (or bytes) with auth and retries; the body comes back uninterpreted."""
        op = self._core.raw_operation(payload, path)
        return self._core.raw_result(op, self._send(op))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
