"""The endpoint settings file: what ``discover --endpoint --settings-file`` found, for ``score`` and Locust to start from.

It holds no secret (keys and tokens stay in ``--key-file``): the scoring URI, the pinned deployment, the auth mode,
the traffic split, Azure's pending limit (``2 x max_concurrent x instances``, weighted by the split) and each
deployment's request settings. A run reads it instead of probing for a safe concurrency. Plain JSON, so that it can
be checked into a deployment repository or edited by hand; every field is checked on reading, and a bad file is one
line naming the file and the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from bankmarketing_client.errors import ConfigurationError, excerpt
from bankmarketing_client.files import read_small_file

if TYPE_CHECKING:
    from bankmarketing_client.azureml.v2.discovery import OnlineEndpointInfo

#: Bumped when a field changes meaning; a reader refuses a version it does not know.
SETTINGS_VERSION: Final = 1
_AUTH_MODES: Final = ("key", "aml_token", "aad_token")
_DEPLOYMENT_FIELDS: Final = ("instance_count", "max_concurrent_requests_per_instance", "request_timeout_ms")


@dataclass(frozen=True)
class DeploymentSettings:
    """One deployment's request settings, as discovered."""

    instance_type: str | None
    instance_count: int
    max_concurrent_requests_per_instance: int
    request_timeout_ms: int
    pending_limit: int


@dataclass(frozen=True)
class EndpointSettingsFile:
    """A discovered endpoint's settings; an :class:`~bankmarketing_client.limits.EndpointLimits` through
    :attr:`pending_limit`, so it can be passed as ``limits=`` to the batch scorer."""

    endpoint: str
    scoring_uri: str
    auth_mode: str
    pending_limit: int
    deployment: str | None = None
    openapi_uri: str | None = None
    traffic: Mapping[str, int] = field(default_factory=dict)
    deployments: Mapping[str, DeploymentSettings] = field(default_factory=dict)

    @classmethod
    def from_info(cls, info: OnlineEndpointInfo) -> EndpointSettingsFile:
        """From a v2 discovery: everything but its keys, token provider and credential."""
        return cls(
            endpoint=info.name,
            scoring_uri=info.scoring_uri,
            auth_mode=info.auth_mode,
            pending_limit=info.pending_limit,
            deployment=info.deployment,
            openapi_uri=info.openapi_uri,
            traffic=dict(info.traffic),
            deployments={
                d.name: DeploymentSettings(
                    d.instance_type,
                    d.instance_count,
                    d.max_concurrent_requests_per_instance,
                    d.request_timeout_ms,
                    d.pending_limit,
                )
                for d in info.deployments
            },
        )

    def for_deployment(self, name: str | None) -> EndpointSettingsFile:
        """The settings of a run pinned to ``name`` (its own pending limit); ``None``: as saved."""
        if name is None or name == self.deployment:
            return self
        if name not in self.deployments:
            known = ", ".join(self.deployments) or "none"
            raise ConfigurationError(
                f"the endpoint settings of {self.endpoint!r} know no deployment {name!r} (they have: {known})"
            )
        return replace(self, deployment=name, pending_limit=self.deployments[name].pending_limit)

    def to_json(self) -> str:
        data = {"version": SETTINGS_VERSION, **asdict(self)}
        return json.dumps(data, indent=2) + "\n"


def write_settings_file(path: Path, settings: EndpointSettingsFile) -> None:
    """Write ``settings`` to ``path`` (no secret in it, so an ordinary file)."""
    try:
        path.write_text(settings.to_json(), encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot write the settings file {path}: {exc.strerror}") from None


def read_settings_file(path: Path) -> EndpointSettingsFile:
    """Read and check a settings file; anything wrong is a :class:`ConfigurationError` naming file and field."""
    raw = read_small_file(path, what="endpoint settings file")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigurationError(f"endpoint settings file {path}: not JSON ({exc})") from None
    try:
        return _parse(data)
    except _Invalid as exc:
        raise ConfigurationError(
            f"endpoint settings file {path}: {exc} (write it with discover --settings-file)"
        ) from None


class _Invalid(Exception):
    """A field of the file is missing or has the wrong type."""


def _get(data: Mapping[str, Any], name: str, kind: type, *, optional: bool = False, at: str = "") -> Any:
    value = data.get(name)
    if value is None and optional:
        return None
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _Invalid(f"{at}{name} must be a whole number of at least 1, not {excerpt(repr(value), 80)}")
    elif not isinstance(value, kind) or (kind is str and not value):
        raise _Invalid(f"{at}{name} is missing or not a {'non-empty string' if kind is str else kind.__name__}")
    return value


def _parse(data: Any) -> EndpointSettingsFile:
    if not isinstance(data, dict):
        raise _Invalid("the top level must be a JSON object")
    if data.get("version") != SETTINGS_VERSION:
        raise _Invalid(f"version must be {SETTINGS_VERSION}, not {data.get('version')!r}")
    auth_mode = _get(data, "auth_mode", str)
    if auth_mode not in _AUTH_MODES:
        raise _Invalid(f"auth_mode must be one of {', '.join(_AUTH_MODES)}, not {auth_mode!r}")
    traffic = _get(data, "traffic", dict, optional=True) or {}
    if not all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in traffic.items()):
        raise _Invalid("traffic must map deployment names to whole percentages")
    deployments: dict[str, DeploymentSettings] = {}
    for name, entry in (_get(data, "deployments", dict, optional=True) or {}).items():
        if not isinstance(entry, dict):
            raise _Invalid(f"deployments.{name} must be a JSON object")
        at = f"deployments.{name}."
        numbers = {key: _get(entry, key, int, at=at) for key in (*_DEPLOYMENT_FIELDS, "pending_limit")}
        deployments[name] = DeploymentSettings(_get(entry, "instance_type", str, optional=True, at=at), **numbers)
    settings = EndpointSettingsFile(
        endpoint=_get(data, "endpoint", str),
        scoring_uri=_get(data, "scoring_uri", str),
        auth_mode=auth_mode,
        pending_limit=_get(data, "pending_limit", int),
        deployment=_get(data, "deployment", str, optional=True),
        openapi_uri=_get(data, "openapi_uri", str, optional=True),
        traffic=traffic,
        deployments=deployments,
    )
    if settings.deployment is not None and deployments and settings.deployment not in deployments:
        raise _Invalid(f"deployment {settings.deployment!r} is not among its deployments")
    return settings


__all__ = ["DeploymentSettings", "EndpointSettingsFile", "read_settings_file", "write_settings_file"]
