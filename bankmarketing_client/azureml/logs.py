"""Service logs and Application Insights: what the original project's ``logs.py`` did, under deadlines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bankmarketing_client.azureml.deadline import DEFAULT_MANAGEMENT_TIMEOUT, call_with_deadline
from bankmarketing_client.azureml.discovery import get_webservice
from bankmarketing_client.errors import ConfigurationError

if TYPE_CHECKING:
    from azureml.core import Workspace


@dataclass(frozen=True)
class AppInsightsChange:
    """The outcome of asking for Application Insights: was it on before, and is it on now."""

    service: str
    was_enabled: bool
    enabled: bool

    def summary(self) -> str:
        if self.was_enabled:
            return f"Application Insights was already enabled for {self.service}"
        if self.enabled:
            return f"Application Insights enabled for {self.service}"
        return f"Application Insights requested for {self.service}; the update is still in progress"


def fetch_logs(
    workspace: Workspace, name: str, *, tail: int = 5000, timeout: float = DEFAULT_MANAGEMENT_TIMEOUT
) -> str:
    """The last ``tail`` lines of the service's container log."""
    if tail <= 0:
        raise ConfigurationError("--tail must be a positive number of lines")
    service = get_webservice(workspace, name, timeout=timeout)
    logs: Any = call_with_deadline(
        lambda: service.get_logs(num_lines=tail), seconds=timeout, what=f"get the logs of service {name!r}"
    )
    return str(logs)


def enable_app_insights(
    workspace: Workspace, name: str, *, timeout: float = DEFAULT_MANAGEMENT_TIMEOUT
) -> AppInsightsChange:
    """Turn Application Insights on for a service unless it already is; say which."""
    service = get_webservice(workspace, name, timeout=timeout)
    if getattr(service, "enable_app_insights", False):
        return AppInsightsChange(service=name, was_enabled=True, enabled=True)
    # update() sends the PATCH and then re-reads the service, so the attribute reflects Azure's answer.
    call_with_deadline(
        lambda: service.update(enable_app_insights=True),
        seconds=timeout,
        what=f"enable Application Insights for service {name!r}",
    )
    return AppInsightsChange(
        service=name, was_enabled=False, enabled=bool(getattr(service, "enable_app_insights", False))
    )
