"""Service logs and Application Insights: what the original project's ``logs.py`` did, under deadlines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bankmarketing_client.azureml.deadline import DEFAULT_MANAGEMENT_TIMEOUT, call_with_deadline
from bankmarketing_client.errors import ConfigurationError


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


def fetch_logs(service: Any, *, tail: int = 5000, timeout: float = DEFAULT_MANAGEMENT_TIMEOUT) -> str:
    """The last ``tail`` lines of the container log of ``service`` (from :func:`.get_webservice`)."""
    if tail <= 0:
        raise ConfigurationError("--tail must be a positive number of lines")
    name = service.name
    logs: Any = call_with_deadline(
        lambda: service.get_logs(num_lines=tail), seconds=timeout, what=f"get the logs of service {name!r}"
    )
    return str(logs)


def enable_app_insights(service: Any, *, timeout: float = DEFAULT_MANAGEMENT_TIMEOUT) -> AppInsightsChange:
    """Turn Application Insights on for ``service`` (from :func:`.get_webservice`) unless it already is; say which.

    Both functions take the looked-up service rather than a name, so ``logs --enable-app-insights`` asks Azure
    for the service once, not once per step.
    """
    name = str(service.name)
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
