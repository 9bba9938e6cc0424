"""Build azure-ai-ml's ``MLClient`` for a workspace, with an azure-identity credential.

azure-ai-ml and azure-identity are optional (the ``azureml-v2`` extra), so they are imported inside the functions.
The workspace is the one :class:`~bankmarketing_client.azureml.workspace.WorkspaceRef` names (a ``config.json`` or
subscription/resource group/workspace), shared with the v1 code. Two settings reach clouds other than Azure's
public one: ``cloud`` (a sovereign cloud's name, or a :class:`CustomCloud` through azure-ai-ml's documented
``cloud``/``cloud_metadata`` keywords) and ``connection_verify`` (a CA bundle, azure-core's transport setting).
Constructing the client makes no call; the first operation does, under the caller's deadline.

Management tokens travel only over TLS: a custom cloud's Resource Manager and authority must be ``https://`` URLs,
loopback included (the tests' stand-ins speak TLS). azure-ai-ml would otherwise turn azure-core's https check off
for an ``http://`` Resource Manager (``enforce_https = _is_https_url(base_url)``) and send the Entra ID token in
clear, and azure-identity refuses an http authority only with a ``ValueError`` at construction.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from bankmarketing_client.azureml.workspace import (
    SP_CLIENT_ID_ENV,
    SP_SECRET_ENV,
    SP_TENANT_ENV,
    WorkspaceRef,
    service_principal_from_env,
)
from bankmarketing_client.errors import ConfigurationError
from bankmarketing_client.urls import describe_url

if TYPE_CHECKING:
    from azure.ai.ml import MLClient
    from azure.core.credentials import TokenCredential

CredentialKind = Literal["default", "cli", "interactive", "service-principal"]
CREDENTIAL_KINDS: tuple[CredentialKind, ...] = ("default", "cli", "interactive", "service-principal")
#: The clouds azure-ai-ml knows by name. Any other name would make it fetch cloud metadata from the public
#: Resource Manager, a network call with no deadline of ours; other clouds are given as a :class:`CustomCloud`.
KNOWN_CLOUDS = ("AzureCloud", "AzureChinaCloud", "AzureUSGovernment")
#: azure-identity's own variable for a non-public authority (sovereign cloud, or a stand-in).
AUTHORITY_ENV = "AZURE_AUTHORITY_HOST"


def require_https(url: str, what: str, *, bare_host: bool = False) -> str:
    """``url`` if it is an ``https://`` URL with a host, else a one-line :class:`ConfigurationError` naming ``what``.

    With ``bare_host`` a host alone (``login.microsoftonline.us``, azure-identity's ``AzureAuthorityHosts``) is taken
    too: azure-identity reads it as https. The refusal quotes at most the scheme, never the rest of the value.
    """
    text = url.strip() if isinstance(url, str) else ""
    try:
        parts = urlsplit(text)
        scheme, host = parts.scheme.lower(), parts.hostname
    except ValueError:
        scheme, host = "", None
    if scheme == "https" and host:
        return text
    if bare_host and text and "://" not in text and not any(c.isspace() for c in text):
        return text
    seen = describe_url(scheme, "://" in text)
    raise ConfigurationError(
        f"{what} must be an https:// URL (got {seen}): a management token sent over plain http could be read on the way"
    )


@dataclass(frozen=True)
class CustomCloud:
    """A cloud azure-ai-ml does not know by name: where its Resource Manager and Entra ID authority are.

    Handed to ``MLClient`` as ``cloud=name, cloud_metadata=...``, azure-ai-ml's documented way to reach a cloud
    beyond AzureCloud, AzureChinaCloud and AzureUSGovernment.
    """

    resource_manager: str
    active_directory: str
    aml_resource_id: str = "https://ml.azure.com/"
    storage_endpoint: str = "core.windows.net"

    def __post_init__(self) -> None:
        require_https(self.resource_manager, "the custom cloud's Resource Manager")
        require_https(self.active_directory, "the custom cloud's authority")

    @property
    def name(self) -> str:
        # azure-ai-ml keeps clouds in a process-wide table and refuses a second entry under one name, so the name
        # follows the addresses: the same cloud twice reuses its entry, a different one gets its own.
        digest = hashlib.sha256(f"{self.resource_manager}|{self.active_directory}".encode()).hexdigest()[:12]
        return f"custom-{digest}"

    def metadata(self) -> dict[str, str]:
        """azure-ai-ml's ``cloud_metadata`` keys."""
        arm = self.resource_manager.rstrip("/") + "/"
        return {
            "azure_portal": arm,
            "resource_manager": arm,
            "active_directory": self.active_directory.rstrip("/") + "/",
            "aml_resource_id": self.aml_resource_id,
            "storage_endpoint": self.storage_endpoint,
            "registry_discovery_endpoint": arm,
        }


class _CliWithServicePrincipalHint:
    """``az login``'s credential, saying what to do instead when it cannot sign in (no Azure CLI on the path, no
    ``az login``) while a service principal is configured in ``AZURE_CLIENT_ID``/``AZURE_TENANT_ID``/
    ``AZURE_CLIENT_SECRET``: the user meant that one, and ``--auth cli`` is only the default. Its failure is a
    :class:`ConfigurationError` (one line, exit 2) carrying azure-identity's reason; otherwise it is the CLI
    credential itself."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def _refused(self, exc: Exception) -> ConfigurationError:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return ConfigurationError(
            f"az login cannot sign in ({reason}), but a service principal is configured in {SP_CLIENT_ID_ENV}, "
            f"{SP_TENANT_ENV} and {SP_SECRET_ENV}: sign in with it with --auth service-principal "
            "(make_credential('service-principal') in Python)"
        )

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.exceptions import ClientAuthenticationError

        try:
            return self._inner.get_token(*scopes, **kwargs)
        except ClientAuthenticationError as exc:
            raise self._refused(exc) from None

    def get_token_info(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.exceptions import ClientAuthenticationError

        try:
            return self._inner.get_token_info(*scopes, **kwargs)
        except ClientAuthenticationError as exc:
            raise self._refused(exc) from None

    def close(self) -> None:
        self._inner.close()

    def __enter__(self) -> _CliWithServicePrincipalHint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _service_principal_configured() -> bool:
    return all(os.environ.get(name) for name in (SP_TENANT_ENV, SP_CLIENT_ID_ENV, SP_SECRET_ENV))


def make_credential(
    kind: CredentialKind = "default",
    *,
    tenant_id: str | None = None,
    authority: str | None = None,
    connection_verify: str | None = None,
    disable_instance_discovery: bool = False,
) -> TokenCredential:
    """An azure-identity credential; no token is fetched until the first call.

    ``default`` is ``DefaultAzureCredential`` (environment, managed identity, ``az login``, ...); ``cli`` reuses
    ``az login`` only (when it cannot sign in while a service principal is configured in the environment, its
    error is a one-line :class:`ConfigurationError` naming ``service-principal``); ``interactive`` opens a browser
    at the first call; ``service-principal`` reads ``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID`` and
    ``AZURE_CLIENT_SECRET`` from the environment, so the secret never appears on a command line. ``authority``
    (default ``$AZURE_AUTHORITY_HOST``) names a non-public Entra ID; ``disable_instance_discovery`` skips MSAL's
    authority validation, for an authority it cannot validate (Azure Stack, a test stand-in).
    """
    if authority:
        require_https(authority, "the authority", bare_host=True)
    elif os.environ.get(AUTHORITY_ENV):
        authority = require_https(os.environ[AUTHORITY_ENV], f"${AUTHORITY_ENV}", bare_host=True)
    authority = authority or None
    transport: dict[str, Any] = {} if connection_verify is None else {"connection_verify": connection_verify}
    if authority is not None:
        transport["authority"] = authority
    if kind == "default":
        from azure.identity import DefaultAzureCredential

        if tenant_id:
            transport["additionally_allowed_tenants"] = [tenant_id]
        return DefaultAzureCredential(**transport)
    if kind == "cli":
        from azure.identity import AzureCliCredential

        cli = AzureCliCredential(tenant_id=tenant_id or "")
        if _service_principal_configured():
            return _CliWithServicePrincipalHint(cli)
        return cli
    if kind == "interactive":
        from azure.identity import InteractiveBrowserCredential

        if tenant_id:
            transport["tenant_id"] = tenant_id
        return InteractiveBrowserCredential(disable_instance_discovery=disable_instance_discovery, **transport)
    if kind == "service-principal":
        tenant, client_id, secret = service_principal_from_env(tenant_id)
        from azure.identity import ClientSecretCredential

        return ClientSecretCredential(
            tenant,
            client_id,
            secret,
            disable_instance_discovery=disable_instance_discovery,
            **transport,
        )
    raise ConfigurationError(f"unknown credential kind {kind!r}; use one of {', '.join(CREDENTIAL_KINDS)}")


def open_ml_client(
    ref: WorkspaceRef,
    credential: TokenCredential,
    *,
    cloud: str | CustomCloud | None = None,
    connection_verify: str | None = None,
    enable_telemetry: bool = False,
) -> MLClient:
    """An ``MLClient`` for ``ref``, authenticated by ``credential`` (any azure-core ``TokenCredential``).

    ``cloud`` is one of :data:`KNOWN_CLOUDS` or a :class:`CustomCloud` (default: azure-ai-ml's, AzureCloud);
    ``connection_verify`` a CA bundle path for every management call. azure-ai-ml's own telemetry is off unless
    ``enable_telemetry``: a scoring client should not send usage data of its own accord. Note that azure-ai-ml
    records the chosen cloud in the process environment (``AZUREML_CURRENT_CLOUD``).
    """
    from azure.ai.ml import MLClient

    options: dict[str, Any] = {"enable_telemetry": enable_telemetry, "show_progress": False}
    if connection_verify is not None:
        options["connection_verify"] = connection_verify
    if isinstance(cloud, CustomCloud):
        options.update(cloud=cloud.name, cloud_metadata=cloud.metadata())
    elif cloud is not None:
        if cloud not in KNOWN_CLOUDS:
            raise ConfigurationError(
                f"unknown cloud {cloud!r}: use one of {', '.join(KNOWN_CLOUDS)}, or a CustomCloud for any other"
            )
        options["cloud"] = cloud
    return MLClient(credential, ref.subscription_id, ref.resource_group, ref.workspace_name, **options)
