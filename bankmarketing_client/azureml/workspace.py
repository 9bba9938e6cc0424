"""Locate an Azure ML workspace and build the azureml-core objects that talk to it.

azureml-core is optional (the ``azureml`` extra), so it is imported inside the functions that need it.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from bankmarketing_client.azureml.deadline import DEFAULT_MANAGEMENT_TIMEOUT, call_with_deadline
from bankmarketing_client.errors import ConfigurationError

if TYPE_CHECKING:
    from azureml.core import Workspace
    from azureml.core.authentication import AbstractAuthentication

AuthKind = Literal["cli", "interactive", "service-principal"]
AUTH_KINDS: tuple[AuthKind, ...] = ("cli", "interactive", "service-principal")

#: Environment variables a service principal is read from (the names azure-identity uses too).
SP_TENANT_ENV = "AZURE_TENANT_ID"
SP_CLIENT_ID_ENV = "AZURE_CLIENT_ID"
SP_SECRET_ENV = "AZURE_CLIENT_SECRET"  # noqa: S105 - the name of a variable, not a secret


def service_principal_from_env(tenant_id: str | None) -> tuple[str, str, str]:
    """Tenant, client id and secret from the ``AZURE_*`` variables (a given tenant wins), for SDK v1 and v2 alike.

    One message names every variable that is missing, so a user fixes them in one go.
    """
    missing = [name for name in (SP_TENANT_ENV, SP_CLIENT_ID_ENV, SP_SECRET_ENV) if not os.environ.get(name)]
    if tenant_id:
        missing = [name for name in missing if name != SP_TENANT_ENV]
    if missing:
        raise ConfigurationError("service-principal auth needs the environment variables " + ", ".join(missing))
    return tenant_id or os.environ[SP_TENANT_ENV], os.environ[SP_CLIENT_ID_ENV], os.environ[SP_SECRET_ENV]


@dataclass(frozen=True)
class WorkspaceRef:
    """Where a workspace lives: what the studio's downloadable ``config.json`` holds."""

    subscription_id: str
    resource_group: str
    workspace_name: str

    @property
    def arm_scope(self) -> str:
        """The workspace's Azure Resource Manager id, the prefix of every management route."""
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace_name}"
        )

    @classmethod
    def from_config(cls, path: str | os.PathLike[str]) -> WorkspaceRef:
        """Read a workspace ``config.json`` (a file, or a directory holding ``config.json``)."""
        file = Path(path)
        if file.is_dir():
            file = file / "config.json"
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigurationError(f"workspace config {file} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"cannot read workspace config {file}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"workspace config {file} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigurationError(f"workspace config {file} must hold a JSON object")
        values: dict[str, str] = {}
        for name in ("subscription_id", "resource_group", "workspace_name"):
            value = data.get(name)
            if not isinstance(value, str) or not value.strip():
                raise ConfigurationError(f"workspace config {file}: {name!r} is missing or not a string")
            values[name] = value.strip()
        return cls(**values)


def make_auth(
    kind: AuthKind, *, tenant_id: str | None = None, timeout: float = DEFAULT_MANAGEMENT_TIMEOUT
) -> AbstractAuthentication:
    """An azureml-core authentication object, built under the management deadline ``timeout``.

    ``cli`` reuses ``az login``; ``interactive`` opens a browser login; ``service-principal`` reads
    ``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID`` and ``AZURE_CLIENT_SECRET`` from the environment, so the secret
    never appears on a command line. The interactive constructor logs in there and then (and may wait for
    ever on a login nobody completes), so every constructor runs under the deadline like any other call.
    """
    from azureml.core import authentication

    build: Callable[[], AbstractAuthentication]
    if kind == "cli":
        build = authentication.AzureCliAuthentication
    elif kind == "interactive":
        build = functools.partial(authentication.InteractiveLoginAuthentication, tenant_id=tenant_id)
    elif kind == "service-principal":
        tenant, client_id, secret = service_principal_from_env(tenant_id)
        build = functools.partial(
            authentication.ServicePrincipalAuthentication,
            tenant_id=tenant,
            service_principal_id=client_id,
            service_principal_password=secret,
        )
    else:
        raise ConfigurationError(f"unknown auth kind {kind!r}; use one of {', '.join(AUTH_KINDS)}")
    return call_with_deadline(build, seconds=timeout, what=f"{kind} login")


def open_workspace(
    ref: WorkspaceRef,
    auth: AbstractAuthentication,
    *,
    verify: bool = True,
    timeout: float = DEFAULT_MANAGEMENT_TIMEOUT,
) -> Workspace:
    """An azureml-core ``Workspace``.

    With ``verify`` the workspace is looked up in Azure Resource Manager now (a wrong name fails here, with
    a clear message); without it no call is made and the first service call finds out.
    """
    from azureml.core import Workspace

    def build() -> Workspace:
        return Workspace(
            ref.subscription_id,
            ref.resource_group,
            ref.workspace_name,
            auth=auth,
            _disable_service_check=not verify,
        )

    if not verify:
        return build()
    return call_with_deadline(build, seconds=timeout, what=f"open workspace {ref.workspace_name!r}")
