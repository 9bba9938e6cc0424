"""Find a managed online endpoint in a workspace (SDK v2): URIs, auth mode, traffic, each deployment's settings.

This is what replaces copying the scoring URI and keys from the studio, and probing for a safe concurrency: the
deployments' own ``request_settings`` and instance counts give Azure's 429 rule (``2 x
max_concurrent_requests_per_instance x instance_count`` pending requests per deployment), from which
:attr:`OnlineEndpointInfo.pending_limit` is the starting point for the batch scorer and the load test.
All three auth modes end in the scoring clients' existing auth: ``key`` in the two-key rotation, ``aml_token`` in
:class:`~bankmarketing_client.auth.TokenAuth` fed by ``get_keys``, ``aad_token`` in ``credential=``. Keys, the
token provider and the credential never show in a repr. Every management call runs under the deadline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, cast

from bankmarketing_client.auth import AccessToken, TokenCredentialLike, access_token
from bankmarketing_client.azureml.deadline import DEFAULT_MANAGEMENT_TIMEOUT, call_with_deadline
from bankmarketing_client.azureml.workspace import WorkspaceRef
from bankmarketing_client.errors import AzureManagementError, ConfigurationError
from bankmarketing_client.limits import pending_limit

if TYPE_CHECKING:
    from azure.ai.ml import MLClient
    from azure.core.credentials import TokenCredential

    from bankmarketing_client.azureml.v2.workspace import CustomCloud
    from bankmarketing_client.client import AsyncScoringClient, ScoringClient

AuthMode = Literal["key", "aml_token", "aad_token"]
AUTH_MODES: tuple[AuthMode, ...] = ("key", "aml_token", "aad_token")

#: Azure's defaults for a deployment that sets no ``request_settings`` / ``instance_count``.
DEFAULT_MAX_CONCURRENT = 1
DEFAULT_REQUEST_TIMEOUT_MS = 5000
DEFAULT_INSTANCE_COUNT = 1

_KEY_OPTIONS = ("api_key", "secondary_key")
_TOKEN_OPTIONS = ("token_provider", "credential")


@dataclass(frozen=True)
class DeploymentInfo:
    """One deployment's compute and request settings, as Azure reports them."""

    name: str
    instance_type: str | None
    instance_count: int
    max_concurrent_requests_per_instance: int
    request_timeout_ms: int
    app_insights_enabled: bool

    @property
    def pending_limit(self) -> int:
        """Azure answers 429 past this many pending requests: ``2 x max_concurrent x instances``."""
        return pending_limit(self.max_concurrent_requests_per_instance, self.instance_count)

    @classmethod
    def from_sdk(cls, deployment: Any) -> DeploymentInfo:
        """From azure-ai-ml's ``OnlineDeployment`` entity (managed or Kubernetes)."""
        settings = getattr(deployment, "request_settings", None)
        return cls(
            name=str(deployment.name),
            instance_type=getattr(deployment, "instance_type", None),
            instance_count=int(getattr(deployment, "instance_count", None) or DEFAULT_INSTANCE_COUNT),
            max_concurrent_requests_per_instance=int(
                getattr(settings, "max_concurrent_requests_per_instance", None) or DEFAULT_MAX_CONCURRENT
            ),
            request_timeout_ms=int(getattr(settings, "request_timeout_ms", None) or DEFAULT_REQUEST_TIMEOUT_MS),
            app_insights_enabled=bool(getattr(deployment, "app_insights_enabled", False)),
        )

    def summary(self, traffic: int, mirror: int) -> str:
        share = f"{traffic} % live" + (f", {mirror} % mirrored" if mirror else "")
        insights = "on" if self.app_insights_enabled else "off"
        return (
            f"  {self.name}: {self.instance_type or '?'} x {self.instance_count}, max_concurrent "
            f"{self.max_concurrent_requests_per_instance}, request_timeout {self.request_timeout_ms} ms, "
            f"429 past {self.pending_limit} pending, App Insights {insights} ({share})"
        )


class EndpointTokenProvider:
    """Fetches an ``aml_token`` endpoint's token through ``get_keys``, one deadline-bound call per call.

    It keeps no cache: the client's :class:`~bankmarketing_client.auth.TokenAuth` holds the token until its
    ``refresh_after`` time and asks again after a 401, which must then reach Azure rather than a stale copy.
    """

    def __init__(self, ml_client: MLClient, endpoint: str, *, timeout: float = DEFAULT_MANAGEMENT_TIMEOUT) -> None:
        self._ml_client = ml_client
        self._endpoint = endpoint
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"EndpointTokenProvider(endpoint={self._endpoint!r})"

    def __call__(self) -> AccessToken:
        answer = call_with_deadline(
            lambda: self._ml_client.online_endpoints.get_keys(self._endpoint),
            seconds=self._timeout,
            what=f"get a token for endpoint {self._endpoint!r}",
        )
        if not getattr(answer, "access_token", None):
            raise AzureManagementError(f"endpoint {self._endpoint!r} returned no token (is it still aml_token?)")
        return access_token(
            {
                "access_token": answer.access_token,
                "expiry_time_utc": answer.expiry_time_utc,
                "refresh_after_time_utc": answer.refresh_after_time_utc or None,
            }
        )


@dataclass(frozen=True)
class OnlineEndpointInfo:
    """What a client needs to call one managed online endpoint, and the deployments' settings to start from."""

    name: str
    scoring_uri: str
    openapi_uri: str | None
    auth_mode: AuthMode
    traffic: Mapping[str, int]
    mirror_traffic: Mapping[str, int]
    deployments: tuple[DeploymentInfo, ...]
    #: The deployment every request is pinned to (``azureml-model-deployment``), or ``None`` for the split.
    deployment: str | None = None
    primary_key: str | None = field(default=None, repr=False, compare=False)
    secondary_key: str | None = field(default=None, repr=False, compare=False)
    token_provider: EndpointTokenProvider | None = field(default=None, repr=False, compare=False)
    credential: TokenCredentialLike | None = field(default=None, repr=False, compare=False)

    def settings_of(self, deployment: str) -> DeploymentInfo:
        for info in self.deployments:
            if info.name == deployment:
                return info
        known = ", ".join(d.name for d in self.deployments) or "none"
        raise ConfigurationError(f"endpoint {self.name!r} has no deployment {deployment!r} (it has: {known})")

    @property
    def pending_limit(self) -> int:
        """How many requests may be in flight before Azure answers 429, as a starting concurrency.

        Pinned to a deployment, that deployment's limit. Otherwise each deployment gets its share of the traffic,
        so the endpoint-wide limit is the lowest ``limit / share`` among the deployments taking live traffic (a
        deployment with 10 % of the traffic fills up at ten times its own limit). Mirrored copies do not count:
        Azure drops them rather than answer 429. At least 1 (also when no deployment takes live traffic).
        """
        if self.deployment is not None:
            return self.settings_of(self.deployment).pending_limit
        total = sum(share for share in self.traffic.values() if share > 0)
        known = {info.name: info for info in self.deployments}
        live = [(known[name], share) for name, share in self.traffic.items() if share > 0 and name in known]
        if not live:
            return 1
        return max(1, min(math.floor(info.pending_limit * total / share) for info, share in live))

    def summary(self) -> str:
        """Human-readable lines for the CLI: URIs, auth mode, traffic and settings, never a credential."""
        credentials = {
            "key": "primary and secondary keys retrieved (not shown)",
            "aml_token": "Azure ML tokens fetched from get_keys and renewed at their refresh-after time",
            "aad_token": "Entra ID tokens from your credential (scope https://ml.azure.com/.default)",
        }[self.auth_mode]
        lines = [
            f"endpoint:     {self.name}",
            f"scoring URI:  {self.scoring_uri}",
            f"OpenAPI URI:  {self.openapi_uri or '(none)'}",
            f"auth mode:    {self.auth_mode}",
            f"credentials:  {credentials}",
            f"traffic:      {_split(self.traffic)}",
            f"mirror:       {_split(self.mirror_traffic)}",
        ]
        if self.deployment is not None:
            lines.append(f"pinned to:    {self.deployment} (azureml-model-deployment)")
        lines.append(f"pending limit: {self.pending_limit} (starting concurrency; Azure answers 429 beyond)")
        lines.append("deployments:")
        lines += [d.summary(self.traffic.get(d.name, 0), self.mirror_traffic.get(d.name, 0)) for d in self.deployments]
        return "\n".join(lines)


def _split(shares: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {share} %" for name, share in shares.items() if share) or "(none)"


def check_endpoint_name(name: str, *, kind: str = "endpoint") -> str:
    """An endpoint name as Azure allows it (a letter, then letters, digits and '-', at most 32), checked before it
    goes into a Resource Manager path: a '/', '..' or a CR/LF there would address another resource or split the
    request line, and Azure would only refuse it after a sign-in and a round trip."""
    from bankmarketing_client.client import DEPLOYMENT_NAME_RULE
    from bankmarketing_client.errors import excerpt

    if not DEPLOYMENT_NAME_RULE.fullmatch(name):
        raise ConfigurationError(
            f"{kind} name {excerpt(repr(name), 80)} must start with a letter and hold only letters, digits and '-' "
            "(at most 32 characters)"
        )
    return name


def discover_online_endpoint(
    workspace: MLClient | WorkspaceRef,
    name: str,
    deployment: str | None = None,
    *,
    credential: TokenCredential | None = None,
    cloud: str | CustomCloud | None = None,
    timeout: float = DEFAULT_MANAGEMENT_TIMEOUT,
) -> OnlineEndpointInfo:
    """Look up online endpoint ``name``: URIs, auth mode and credentials, traffic, and every deployment's settings.

    ``workspace`` is an ``MLClient``, or a :class:`WorkspaceRef` opened with ``credential`` (default
    ``DefaultAzureCredential``) in ``cloud`` (see :func:`.workspace.open_ml_client`). ``deployment`` pins every
    request to that deployment. ``credential`` is also what an ``aad_token`` endpoint is called with (default: the
    one the ``MLClient`` was built with). Three SDK calls (endpoint, deployments, keys; two for ``aad_token``), each
    under ``timeout`` seconds; azure-ai-ml makes five ARM requests of them for a key endpoint (``get`` lists the
    deployments too, ``get_keys`` reads the auth mode again).
    """
    from bankmarketing_client.client import check_deployment

    check_endpoint_name(name)
    if deployment is not None:
        deployment = check_deployment(deployment)
    ml_client = _ml_client(workspace, credential, cloud)

    endpoint: Any = call_with_deadline(
        lambda: ml_client.online_endpoints.get(name), seconds=timeout, what=f"get online endpoint {name!r}"
    )
    deployments = call_with_deadline(
        lambda: [DeploymentInfo.from_sdk(d) for d in ml_client.online_deployments.list(endpoint_name=name)],
        seconds=timeout,
        what=f"list the deployments of online endpoint {name!r}",
    )
    mode = str(getattr(endpoint, "auth_mode", "") or "").lower()
    if mode not in AUTH_MODES:
        raise AzureManagementError(f"online endpoint {name!r} has an auth mode this client does not know: {mode!r}")
    if not getattr(endpoint, "scoring_uri", None):
        state = getattr(endpoint, "provisioning_state", None)
        raise AzureManagementError(f"online endpoint {name!r} has no scoring URI yet (provisioning state: {state})")
    info = OnlineEndpointInfo(
        name=name,
        scoring_uri=str(endpoint.scoring_uri),
        openapi_uri=getattr(endpoint, "openapi_uri", None) or None,
        auth_mode=cast(AuthMode, mode),  # checked against AUTH_MODES above
        traffic={k: int(v) for k, v in (endpoint.traffic or {}).items()},
        mirror_traffic={k: int(v) for k, v in (getattr(endpoint, "mirror_traffic", None) or {}).items()},
        deployments=tuple(sorted(deployments, key=lambda d: d.name)),
        deployment=deployment,
    )
    if deployment is not None:
        info.settings_of(deployment)  # a deployment the endpoint does not have is refused here, naming the others
    if mode == "key":
        keys: Any = call_with_deadline(
            lambda: ml_client.online_endpoints.get_keys(name), seconds=timeout, what=f"get the keys of {name!r}"
        )
        return replace(info, primary_key=keys.primary_key, secondary_key=keys.secondary_key or None)
    if mode == "aml_token":
        return replace(info, token_provider=EndpointTokenProvider(ml_client, name, timeout=timeout))
    # aad_token: MLClient keeps the credential it was built with only privately; use it unless one is given.
    aad = credential if credential is not None else getattr(ml_client, "_credential", None)
    if aad is None:
        raise ConfigurationError(f"endpoint {name!r} uses aad_token auth: pass the credential to call it with")
    return replace(info, credential=aad)


def _ml_client(
    workspace: MLClient | WorkspaceRef, credential: TokenCredential | None, cloud: str | CustomCloud | None
) -> MLClient:
    if not isinstance(workspace, WorkspaceRef):
        if cloud is not None:
            raise ConfigurationError("cloud applies to a WorkspaceRef; an MLClient already has its cloud")
        return workspace
    from bankmarketing_client.azureml.v2.workspace import make_credential, open_ml_client

    return open_ml_client(workspace, credential or make_credential("default"), cloud=cloud)


def client_options(info: OnlineEndpointInfo, options: Mapping[str, Any]) -> dict[str, Any]:
    """The client keywords for ``info``, with ``options`` on top; a credential of the wrong kind is refused.

    The concurrency starts at :attr:`OnlineEndpointInfo.pending_limit` unless ``max_concurrency`` is given.
    """
    given = [k for k in (*_KEY_OPTIONS, *_TOKEN_OPTIONS) if options.get(k) is not None]
    if info.auth_mode == "key" and any(k in _TOKEN_OPTIONS for k in given):
        raise ConfigurationError(f"endpoint {info.name!r} uses key auth: give it keys, not a token or credential")
    if info.auth_mode != "key" and any(k in _KEY_OPTIONS for k in given):
        raise ConfigurationError(f"endpoint {info.name!r} uses {info.auth_mode} auth: it takes tokens, not keys")
    # use_env=False: a discovered endpoint's credentials must not be mixed with keys from the environment.
    kwargs: dict[str, Any] = {
        "scoring_uri": info.scoring_uri,
        "use_env": False,
        "deployment": info.deployment,
        "max_concurrency": info.pending_limit,
    }
    if not given:
        if info.auth_mode == "key":
            kwargs.update(api_key=info.primary_key, secondary_key=info.secondary_key)
        elif info.auth_mode == "aml_token":
            kwargs["token_provider"] = info.token_provider
        else:
            kwargs["credential"] = info.credential
    return {**kwargs, **options}


def build_client(info: OnlineEndpointInfo, **options: Any) -> ScoringClient:
    """A :class:`~bankmarketing_client.client.ScoringClient` for a discovered endpoint (options passed on)."""
    from bankmarketing_client.client import ScoringClient

    return ScoringClient(**client_options(info, options))


def build_async_client(info: OnlineEndpointInfo, **options: Any) -> AsyncScoringClient:
    """An :class:`~bankmarketing_client.client.AsyncScoringClient` for a discovered endpoint."""
    from bankmarketing_client.client import AsyncScoringClient

    return AsyncScoringClient(**client_options(info, options))
