"""Authentication for the scoring endpoint as ``httpx.Auth`` flows.

* :class:`KeyAuth`: ``Authorization: Bearer <key>`` with a primary and a secondary key. On a 401 the same
  request is sent once more with the other key, and if that works the client keeps using it. Azure deployments
  have two keys precisely so one can be regenerated while the other serves: with both configured, a rotation
  causes no failed call.
* :class:`TokenAuth`: a bearer token from a provider callable (Azure ML token auth, an AAD credential, ...),
  fetched lazily, refreshed at the token's own refresh-after time (``aml_token``: ``get_keys``'
  ``refreshAfterTimeUtc``) or else ``refresh_margin`` seconds before it expires, and once more after a 401 (one
  refresh per refused request, never a loop). :func:`access_token` reads ``get_keys``' answer,
  :func:`token_file_provider` a file holding it (``local serve --token-file`` keeps one fresh), and
  :func:`credential_provider` an azure-core ``TokenCredential`` (``aad_token``), matched structurally so that
  azure-core stays an optional dependency.

Keys and tokens travel only over TLS: :func:`check_credential_url` refuses to bind one to a plain ``http://`` URL
whose host is not loopback (the local endpoint), as azure-core refuses bearer tokens over http. Every way of sending
a credential calls it before anything is sent (the client core, so the CLI, the batch scorer and Spark; the load
test; the docs proxy). The opt-out, for a private network the user trusts, has one spelling everywhere:
``allow_insecure_http=True`` (keyword) and ``--allow-insecure-http`` (command line, load test).

Keys and tokens live in :class:`Secret` wrappers whose ``repr``/``str`` never show the value; nothing here
logs a header. httpx itself hides ``Authorization`` in the repr of ``Headers``.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Generator, Mapping
from pathlib import Path
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlsplit

import httpx

from bankmarketing_client.errors import REDACTED, AuthenticationError, ConfigurationError, excerpt
from bankmarketing_client.files import read_small_file
from bankmarketing_client.urls import is_loopback

logger = logging.getLogger("bankmarketing_client.auth")


class Secret:
    """A string that does not print itself: ``repr``, ``str`` and f-strings show ``********``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError("a key or token must be a non-empty string")
        if any(c in value for c in "\r\n"):
            raise ConfigurationError("a key or token must not contain line breaks")
        self._value = value.strip()

    def reveal(self) -> str:
        """The value itself, for the one place that must send it (the Authorization header)."""
        return self._value

    def matches(self, other: str) -> bool:
        """Constant-time comparison, so that timing tells nothing about the key."""
        return hmac.compare_digest(self._value.encode(), other.encode())

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    __str__ = __repr__

    def __reduce__(
        self,
    ) -> str | tuple[object, ...]:  # refuse pickling: a pickled secret ends up in caches and logs
        raise TypeError("Secret cannot be pickled")


#: How to send a key or token over plain http anyway, named in the refusal (the keyword, and the flag of the CLI
#: and the load test).
INSECURE_HTTP_OPT_OUT = "allow_insecure_http=True (--allow-insecure-http on the command line and in the load test)"


def check_credential_url(url: str, *, allow_insecure_http: bool = False) -> None:
    """Refuse (:class:`ConfigurationError`) to send a key or token to ``url`` over plain http, unless its host is
    loopback (127.0.0.0/8, ``::1``, ``localhost``) or ``allow_insecure_http`` is given.

    Decided from the URL's text alone, before any name is resolved or any connection opened: a name that merely
    resolves to loopback is not loopback here. With the opt-out, a non-loopback http target is logged as a warning.
    """
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        raise ConfigurationError("the URL a key or token is sent to is not a valid http(s) URL") from None
    scheme = parts.scheme.lower()
    if scheme == "https" or (scheme == "http" and is_loopback(host)):
        return
    if scheme != "http":
        raise ConfigurationError("a key or token is only sent to an https:// URL (or http:// on loopback)")
    if allow_insecure_http:
        logger.warning("sending a key or token over plain http to %s (allow_insecure_http)", excerpt(host, 80))
        return
    raise ConfigurationError(
        f"refusing to send a key or token over plain http to {excerpt(host, 80)}: use the endpoint's https:// URI "
        f"(Azure's are https), or on a private network you trust pass {INSECURE_HTTP_OPT_OUT}"
    )


class AccessToken(NamedTuple):
    """A bearer token, its expiry and optionally when to renew it, as POSIX timestamps (azure-core's
    ``AccessTokenInfo`` shape; ``get_token``'s ``AccessToken`` is the first two)."""

    token: str
    expires_on: float
    refresh_on: float | None = None


def access_token(answer: Mapping[str, Any]) -> AccessToken:
    """The token in an ``aml_token`` endpoint's ``get_keys`` answer: the REST names (``accessToken``,
    ``expiryTimeUtc``, ``refreshAfterTimeUtc``, as ``LocalEndpoint.get_token`` returns them) or azure-ai-ml's
    (``access_token``, ``expiry_time_utc``, ``refresh_after_time_utc``). Times are seconds since the epoch."""

    def pick(*names: str) -> Any:
        return next((answer[n] for n in names if answer.get(n) is not None), None)

    token = pick("accessToken", "access_token")
    expiry = pick("expiryTimeUtc", "expiry_time_utc")
    refresh = pick("refreshAfterTimeUtc", "refresh_after_time_utc")
    if not isinstance(token, str) or not token.strip():
        raise ConfigurationError("the token answer holds no accessToken")
    try:
        return AccessToken(token, float(expiry), None if refresh is None else float(refresh))
    except (TypeError, ValueError):
        raise ConfigurationError("the token answer's expiryTimeUtc/refreshAfterTimeUtc are not times") from None


def token_file_provider(path: str | Path) -> Callable[[], AccessToken]:
    """A provider reading ``get_keys``' token answer (JSON) from ``path`` on every call, so a file renewed
    beside the run (``local serve --token-file``) is picked up at each refresh. Messages name the file, never
    its content."""
    file = Path(path)

    def read() -> AccessToken:
        raw = read_small_file(file, what="token file")
        try:
            answer = json.loads(raw)
        except ValueError:
            raise ConfigurationError(f"the token file {file} is not JSON") from None
        if not isinstance(answer, dict):
            raise ConfigurationError(f"the token file {file} does not hold a token answer (a JSON object)")
        try:
            return access_token(answer)
        except ConfigurationError as exc:
            raise ConfigurationError(f"the token file {file}: {exc}") from None

    return read


#: The Entra ID scope of Azure ML online endpoints in ``aad_token`` auth mode.
AML_SCOPE = "https://ml.azure.com/.default"


class TokenCredentialLike(Protocol):
    """What the client needs of an azure-core ``TokenCredential`` (azure-identity's credentials all fit)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any: ...


def credential_provider(credential: TokenCredentialLike, scope: str = AML_SCOPE) -> Callable[[], AccessToken]:
    """A provider asking ``credential`` for a token for ``scope`` on every call (azure-identity caches its own).

    It uses ``get_token_info`` where the credential has it (azure-core 1.31+), whose ``refresh_on`` is Entra ID's
    own renewal time, else ``get_token``. A credential that fails raises :class:`AuthenticationError`.
    """
    if not callable(getattr(credential, "get_token", None)):
        raise ConfigurationError("credential must be an azure-core TokenCredential (it has no get_token method)")

    def fetch() -> AccessToken:
        get_token_info = getattr(credential, "get_token_info", None)
        try:
            if callable(get_token_info):
                info = get_token_info(scope)
                return AccessToken(info.token, float(info.expires_on), info.refresh_on)
            token, expires_on = tuple(credential.get_token(scope))[:2]
            return AccessToken(token, float(expires_on))
        except Exception as exc:  # azure-identity's ClientAuthenticationError and the transport's errors
            reason = excerpt(str(exc) or type(exc).__name__)
            raise AuthenticationError(f"the credential could not get a token for {scope}: {reason}") from None

    return fetch


#: Returns a fresh token; called from the request path (briefly blocking), so it should be quick. It need not
#: cache: :class:`TokenAuth` is the one cache, and calls it only when the token is due or was refused.
TokenProvider = Callable[[], AccessToken | tuple[str, float]]


def _bearer(secret: Secret) -> str:
    return f"Bearer {secret.reveal()}"


class KeyAuth(httpx.Auth):
    """``Bearer`` key auth with fallback to the secondary key on 401, remembering which key works."""

    requires_request_body = True  # the body is replayed when the other key is tried

    def __init__(self, primary: str | Secret, secondary: str | Secret | None = None) -> None:
        self._keys: tuple[Secret, ...] = tuple(
            k if isinstance(k, Secret) else Secret(k) for k in (primary, secondary) if k is not None
        )
        if len(self._keys) == 2 and self._keys[0].matches(self._keys[1].reveal()):
            self._keys = self._keys[:1]
        self._active = 0
        self._lock = threading.Lock()

    @property
    def active_key_name(self) -> str:
        """``"primary"`` or ``"secondary"``: which key the next request starts with (for logs and tests)."""
        return "primary" if self._active == 0 else "secondary"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        first = self._active
        request.headers["Authorization"] = _bearer(self._keys[first])
        response = yield request
        if response.status_code != 401 or len(self._keys) < 2:
            return
        other = 1 - first
        request.headers["Authorization"] = _bearer(self._keys[other])
        response = yield request
        if response.status_code != 401:
            with self._lock:
                if self._active == first:
                    self._active = other
                    logger.warning(
                        "the %s key was refused (401) and the %s key accepted; using the %s key from now on",
                        "primary" if first == 0 else "secondary",
                        self.active_key_name,
                        self.active_key_name,
                    )

    def __repr__(self) -> str:
        names = ("primary", "secondary")[: len(self._keys)]
        return f"KeyAuth({', '.join(f'{n}={REDACTED}' for n in names)}, active={self.active_key_name})"


class TokenAuth(httpx.Auth):
    """Bearer token from a provider, refreshed ahead of expiry and once after a 401."""

    requires_request_body = True

    def __init__(
        self,
        provider: TokenProvider,
        *,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._provider = provider
        self._margin = refresh_margin
        self._clock = clock
        self._token: Secret | None = None
        self._refresh_at = 0.0
        self._lock = threading.Lock()

    def _fetch(self) -> None:
        got = self._provider()
        if isinstance(got, AccessToken):
            token, expires_on, refresh_on = got
        elif isinstance(got, tuple):  # (token, expires_on), as azure-core's AccessToken
            (token, expires_on), refresh_on = got, None
        else:  # azure-core's AccessTokenInfo (not a tuple), whose refresh_on is the issuer's renewal time
            token, expires_on, refresh_on = got.token, got.expires_on, getattr(got, "refresh_on", None)
        self._token = Secret(token)
        now = self._clock()
        lifetime = max(0.0, float(expires_on) - now)
        if refresh_on is not None and now < float(refresh_on) < float(expires_on):
            # The issuer's own renewal time (aml_token's refreshAfterTimeUtc). One already past (a token file not
            # yet rewritten) falls through to the rule below, so the file is not re-read on every request.
            self._refresh_at = float(refresh_on)
        else:
            # ``refresh_margin`` before expiry, but never sooner than half-way through the token's life, so a
            # short-lived token (or a provider that reports its refresh time rather than its expiry) is not
            # fetched again on every request.
            self._refresh_at = float(expires_on) - min(self._margin, lifetime / 2)
        logger.debug("fetched a token valid for %.0f s, renewed in %.0f s", lifetime, self._refresh_at - now)

    def current(self, *, force: bool = False) -> Secret:
        """The token to send, fetching a new one when none is held, it is due for renewal, or ``force``.

        This is the one token cache: providers should fetch on every call, so that ``force`` (after a 401)
        really yields a new token.
        """
        with self._lock:
            if force or self._token is None or self._clock() >= self._refresh_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        sent = self.current()
        request.headers["Authorization"] = _bearer(sent)
        response = yield request
        if response.status_code == 401:
            with self._lock:  # only one concurrent 401 refreshes; the others reuse its token
                stale = self._token is sent
            fresh = self.current(force=stale)
            request.headers["Authorization"] = _bearer(fresh)
            yield request

    @property
    def refresh_at(self) -> float:
        """When the held token is renewed (POSIX time per ``clock``; 0 before the first fetch)."""
        return self._refresh_at

    def __repr__(self) -> str:
        return f"TokenAuth(token={REDACTED}, refresh_margin={self._margin})"


def build_auth(
    api_key: str | Secret | None,
    secondary_key: str | Secret | None = None,
    token_provider: TokenProvider | None = None,
) -> httpx.Auth | None:
    """The auth flow for these settings, or ``None`` for an endpoint without auth (like a bare container)."""
    if token_provider is not None:
        if api_key is not None or secondary_key is not None:
            raise ConfigurationError("give either keys or a token provider, not both")
        return TokenAuth(token_provider)
    if api_key is None:
        if secondary_key is not None:
            raise ConfigurationError("a secondary key was given without a primary key")
        return None
    return KeyAuth(api_key, secondary_key)
