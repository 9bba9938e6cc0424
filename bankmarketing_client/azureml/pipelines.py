"""Trigger a published Azure ML pipeline through its REST endpoint and follow the run to its end.

The trigger is the documented REST call: POST ``{"ExperimentName", "ParameterAssignments"}`` to the
pipeline's endpoint with the workspace's Azure AD header, which answers with the new run's ``Id``. The run's
status is read from the workspace's run-history service. Both go through httpx under our own deadline,
because neither the header acquisition nor Azure itself is guaranteed to answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from bankmarketing_client.azureml.deadline import DEFAULT_MANAGEMENT_TIMEOUT, call_with_deadline
from bankmarketing_client.azureml.workspace import WorkspaceRef
from bankmarketing_client.errors import AzureManagementError, ConfigurationError, StillRunning, excerpt
from bankmarketing_client.urls import endpoint_urls

if TYPE_CHECKING:
    from azureml.core import Workspace
    from azureml.core.authentication import AbstractAuthentication

#: Run states after which nothing changes any more.
TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Canceled"})


def _call(
    method: str,
    url: str,
    *,
    auth: AbstractAuthentication,
    timeout: float,
    what: str,
    body: Mapping[str, object] | None = None,
) -> dict[str, Any]:
    """One management REST call with the workspace's AAD header, all under the deadline: its JSON object."""
    header: Mapping[str, str] = call_with_deadline(
        auth.get_authentication_header, seconds=timeout, what="get an Azure AD token for the workspace"
    )
    headers = {**header, "Content-Type": "application/json", "Accept": "application/json"}

    def send() -> httpx.Response:
        with httpx.Client(timeout=timeout) as http:
            return http.request(method, url, json=body, headers=headers)

    return _json_or_error(call_with_deadline(send, seconds=timeout, what=what), what)


def _json_or_error(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 400:
        raise AzureManagementError(
            f"{what}: HTTP {response.status_code}: {excerpt(response.text) or response.reason_phrase}"
        )
    try:
        data = response.json()
    except ValueError:
        raise AzureManagementError(f"{what}: the answer is not JSON: {excerpt(response.text)}") from None
    if not isinstance(data, dict):
        raise AzureManagementError(f"{what}: expected a JSON object, got {excerpt(response.text)}")
    return data


def trigger_pipeline(
    endpoint_url: str,
    *,
    auth: AbstractAuthentication,
    experiment: str,
    parameters: Mapping[str, object] | None = None,
    timeout: float = DEFAULT_MANAGEMENT_TIMEOUT,
) -> str:
    """Submit a run of the published pipeline at ``endpoint_url``; return the new run id."""
    endpoint_urls(endpoint_url, what="the pipeline endpoint")  # the shared check, which never quotes the value
    if not experiment.strip():
        raise ConfigurationError("an experiment name is required to trigger a pipeline")
    body = {"ExperimentName": experiment, "ParameterAssignments": dict(parameters or {})}
    data = _call("POST", endpoint_url, auth=auth, timeout=timeout, what="trigger the published pipeline", body=body)
    run_id = data.get("Id")
    if not isinstance(run_id, str) or not run_id:
        raise AzureManagementError(f"the pipeline endpoint answered without a run Id: {excerpt(json.dumps(data))}")
    return run_id


@dataclass(frozen=True)
class RunHistory:
    """The run-history service of one workspace, where a pipeline run's status is read."""

    base_url: str
    workspace: WorkspaceRef
    auth: AbstractAuthentication

    @classmethod
    def for_workspace(cls, workspace: Workspace, *, timeout: float = DEFAULT_MANAGEMENT_TIMEOUT) -> RunHistory:
        """Ask the workspace's service discovery where its run history lives (under the deadline)."""
        url = call_with_deadline(
            lambda: workspace.service_context._get_run_history_url(),
            seconds=timeout,
            what=f"discover the run-history service of workspace {workspace.name!r}",
        )
        ref = WorkspaceRef(workspace.subscription_id, workspace.resource_group, workspace.name)
        return cls(base_url=str(url), workspace=ref, auth=workspace._auth_object)

    def run_url(self, experiment: str, run_id: str) -> str:
        return (
            f"{self.base_url.rstrip('/')}/history/v1.0{self.workspace.arm_scope}"
            f"/experiments/{quote(experiment, safe='')}/runs/{quote(run_id, safe='')}"
        )

    def status(self, experiment: str, run_id: str, *, timeout: float = DEFAULT_MANAGEMENT_TIMEOUT) -> str:
        """The run's current status ("Running", "Completed", ...)."""
        what = f"read the status of run {run_id!r}"
        data = _call("GET", self.run_url(experiment, run_id), auth=self.auth, timeout=timeout, what=what)
        status = data.get("status")
        if not isinstance(status, str):
            raise AzureManagementError(f"{what}: the answer has no status")
        return status


def wait_for_run(
    history: RunHistory,
    experiment: str,
    run_id: str,
    *,
    poll_interval: float = 15.0,
    timeout: float = 3600.0,
    request_timeout: float = DEFAULT_MANAGEMENT_TIMEOUT,
    on_status: Callable[[str], None] | None = None,
) -> str:
    """Poll the run until it reaches a terminal status and return it; ``on_status`` hears each change."""
    deadline = time.monotonic() + timeout
    last: str | None = None
    while True:
        status = history.status(experiment, run_id, timeout=request_timeout)
        if status != last and on_status is not None:
            on_status(status)
        last = status
        if status in TERMINAL_STATUSES:
            return status
        if time.monotonic() + poll_interval > deadline:
            raise StillRunning(f"run {run_id!r} is still {status} after {timeout:g} s of waiting")
        time.sleep(poll_interval)
