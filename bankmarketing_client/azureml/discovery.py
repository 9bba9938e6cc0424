"""Find a deployed service in a workspace: its URIs, how it authenticates, and the credentials to use.

This replaces copying the scoring URI and keys by hand from the studio. Keys stay out of reprs and
messages; a token-authenticated service gets a provider that fetches a fresh token before the current
one is due for refresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from bankmarketing_client.auth import TokenProvider
from bankmarketing_client.azureml.deadline import DEFAULT_MANAGEMENT_TIMEOUT, call_with_deadline
from bankmarketing_client.errors import AzureManagementError, ConfigurationError

if TYPE_CHECKING:
    from azureml.core import Workspace

    from bankmarketing_client.client import AsyncScoringClient, ScoringClient

AuthMode = Literal["key", "token", "none"]


@dataclass(frozen=True)
class ServiceEndpoint:
    """What a client needs to call one deployed service. Keys and the token provider never show in repr."""

    name: str
    scoring_uri: str
    swagger_uri: str | None
    auth_mode: AuthMode
    compute_type: str | None = None
    primary_key: str | None = field(default=None, repr=False, compare=False)
    secondary_key: str | None = field(default=None, repr=False, compare=False)
    token_provider: TokenProvider | None = field(default=None, repr=False, compare=False)

    def summary(self) -> str:
        """Human-readable lines for the CLI: URIs and auth mode, never a key."""
        credentials = {
            "key": "primary and secondary keys retrieved (not shown)",
            "token": "Azure AD tokens fetched on demand and refreshed before expiry",
            "none": "the service does not check credentials",
        }[self.auth_mode]
        return "\n".join(
            [
                f"service:      {self.name}" + (f" ({self.compute_type})" if self.compute_type else ""),
                f"scoring URI:  {self.scoring_uri}",
                f"swagger URI:  {self.swagger_uri or '(none)'}",
                f"auth mode:    {self.auth_mode}",
                f"credentials:  {credentials}",
            ]
        )


class ServiceTokenProvider:
    """Fetches a service's Azure AD access token through azureml-core, one management call per call.

    Calling it returns ``(token, refresh_at_epoch_seconds)``; ``refresh_at`` is Azure's ``refreshAfter`` (or the
    expiry, if sooner). It keeps no cache of its own: the client's :class:`~bankmarketing_client.auth.TokenAuth`
    caches until then, and asks again after a 401, which must then reach Azure rather than a stale copy.
    """

    def __init__(self, service: Any, *, timeout: float = DEFAULT_MANAGEMENT_TIMEOUT) -> None:
        self._service = service
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"ServiceTokenProvider(service={getattr(self._service, 'name', '?')!r})"

    def __call__(self) -> tuple[str, float]:
        token = call_with_deadline(
            self._service.get_access_token,
            seconds=self._timeout,
            what=f"get an access token for service {getattr(self._service, 'name', '?')!r}",
        )
        # azureml-core turns the epoch seconds it received into naive local datetimes; .timestamp()
        # reads them back as local time, which recovers the original epoch values.
        refresh_at = min(token.refresh_after.timestamp(), token.expiry_on.timestamp())
        return str(token.access_token), refresh_at


def get_webservice(workspace: Workspace, name: str, *, timeout: float = DEFAULT_MANAGEMENT_TIMEOUT) -> Any:
    """The azureml-core ``Webservice`` object for ``name`` (one management call, under the deadline)."""
    if not name:
        raise ConfigurationError("a service name is required")
    from azureml.core.webservice import Webservice

    return call_with_deadline(lambda: Webservice(workspace, name), seconds=timeout, what=f"get service {name!r}")


def describe_service(service: Any, *, timeout: float = DEFAULT_MANAGEMENT_TIMEOUT) -> ServiceEndpoint:
    """A :class:`ServiceEndpoint` for an azureml-core ``Webservice``, fetching its keys when it uses keys."""
    name = str(service.name)
    scoring_uri = getattr(service, "scoring_uri", None)
    if not scoring_uri:
        state = getattr(service, "state", None)
        raise AzureManagementError(f"service {name!r} has no scoring URI yet (state: {state})")
    endpoint = ServiceEndpoint(
        name=name,
        scoring_uri=str(scoring_uri),
        swagger_uri=getattr(service, "swagger_uri", None),
        auth_mode="none",
        compute_type=getattr(service, "compute_type", None),
    )
    if getattr(service, "token_auth_enabled", False):
        token_provider = ServiceTokenProvider(service, timeout=timeout)
        return replace(endpoint, auth_mode="token", token_provider=token_provider)
    if getattr(service, "auth_enabled", False):
        primary, secondary = call_with_deadline(
            service.get_keys, seconds=timeout, what=f"get the keys of service {name!r}"
        )
        return replace(endpoint, auth_mode="key", primary_key=primary, secondary_key=secondary or None)
    return endpoint


def discover_service(
    workspace: Workspace, name: str, *, timeout: float = DEFAULT_MANAGEMENT_TIMEOUT
) -> ServiceEndpoint:
    """Look up service ``name`` in ``workspace``: URIs, auth mode and credentials (each call under ``timeout``)."""
    return describe_service(get_webservice(workspace, name, timeout=timeout), timeout=timeout)


def _client_kwargs(endpoint: ServiceEndpoint) -> dict[str, Any]:
    # use_env=False: a discovered service's credentials must not be mixed with keys from the environment.
    kwargs: dict[str, Any] = {"scoring_uri": endpoint.scoring_uri, "use_env": False}
    if endpoint.auth_mode == "key":
        kwargs["api_key"] = endpoint.primary_key
        kwargs["secondary_key"] = endpoint.secondary_key
    elif endpoint.auth_mode == "token":
        kwargs["token_provider"] = endpoint.token_provider
    return kwargs


def build_client(endpoint: ServiceEndpoint, **options: Any) -> ScoringClient:
    """A :class:`~bankmarketing_client.client.ScoringClient` for a discovered service (extra options passed on)."""
    from bankmarketing_client.client import ScoringClient

    return ScoringClient(**{**_client_kwargs(endpoint), **options})


def build_async_client(endpoint: ServiceEndpoint, **options: Any) -> AsyncScoringClient:
    """An :class:`~bankmarketing_client.client.AsyncScoringClient` for a discovered service."""
    from bankmarketing_client.client import AsyncScoringClient

    return AsyncScoringClient(**{**_client_kwargs(endpoint), **options})
