"""A managed online deployment's container logs and its Application Insights setting (SDK v2), under deadlines.

v1's ``logs.py`` asked a web service; in v2 logs and App Insights belong to each deployment of an endpoint. Turning
App Insights on is an update of the deployment itself (``app_insights_enabled``), a long-running operation that
is followed to its end within the deadline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from bankmarketing_client.azureml.deadline import DEFAULT_MANAGEMENT_TIMEOUT, call_with_deadline
from bankmarketing_client.azureml.logs import AppInsightsChange
from bankmarketing_client.azureml.v2.discovery import check_endpoint_name
from bankmarketing_client.errors import ConfigurationError

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

Container = Literal["inference-server", "storage-initializer"]
#: azure-ai-ml's names for the containers (it sends them to getLogs as ``InferenceServer``/``StorageInitializer``,
#: and refuses the REST names although its docstring lists them).
CONTAINERS: tuple[Container, ...] = ("inference-server", "storage-initializer")


def _check_names(endpoint: str, deployment: str) -> None:
    """Both names go into a Resource Manager path: refused there if Azure would not allow them."""
    from bankmarketing_client.client import check_deployment

    check_endpoint_name(endpoint)
    check_deployment(deployment)


def fetch_deployment_logs(
    ml_client: MLClient,
    endpoint: str,
    deployment: str,
    *,
    container: Container = "inference-server",
    tail: int = 5000,
    timeout: float = DEFAULT_MANAGEMENT_TIMEOUT,
) -> str:
    """The last ``tail`` lines of one container of ``deployment`` (the scoring server, or the model download)."""
    _check_names(endpoint, deployment)
    if tail <= 0:
        raise ConfigurationError("--tail must be a positive number of lines")
    if container not in CONTAINERS:
        raise ConfigurationError(f"unknown container {container!r}; use one of {', '.join(CONTAINERS)}")
    logs: Any = call_with_deadline(
        lambda: ml_client.online_deployments.get_logs(deployment, endpoint, tail, container_type=container),
        seconds=timeout,
        what=f"get the {container} logs of deployment {deployment!r} of endpoint {endpoint!r}",
    )
    return str(logs)


def enable_deployment_app_insights(
    ml_client: MLClient, endpoint: str, deployment: str, *, timeout: float = DEFAULT_MANAGEMENT_TIMEOUT
) -> AppInsightsChange:
    """Turn Application Insights on for ``deployment`` unless it already is, and say which.

    The update is sent as azure-ai-ml sends any deployment change (``begin_create_or_update`` of the deployment as
    read, one field changed; the scoring script is not re-validated locally since it is not ours to read) and
    waited for within ``timeout``, so "enabled" means Azure finished applying it.
    """
    _check_names(endpoint, deployment)
    what = f"deployment {deployment!r} of endpoint {endpoint!r}"
    current: Any = call_with_deadline(
        lambda: ml_client.online_deployments.get(deployment, endpoint), seconds=timeout, what=f"get {what}"
    )
    if current.app_insights_enabled:
        return AppInsightsChange(service=f"{endpoint}/{deployment}", was_enabled=True, enabled=True)
    current.app_insights_enabled = True

    def update() -> Any:
        poller = ml_client.online_deployments.begin_create_or_update(current, skip_script_validation=True)
        return poller.result()

    updated: Any = call_with_deadline(update, seconds=timeout, what=f"enable Application Insights for {what}")
    return AppInsightsChange(
        service=f"{endpoint}/{deployment}", was_enabled=False, enabled=bool(updated.app_insights_enabled)
    )
