"""Start a job on an Azure ML batch endpoint (SDK v2) and follow it to its final status.

Batch endpoints are v2's successor of v1's published pipelines. azure-ai-ml's ``batch_endpoints.invoke`` looks the
endpoint up in Azure Resource Manager, then POSTs the job to the endpoint's own invocation URI with an Entra ID
token; from then on the job is an ordinary workspace job, read back with ``jobs.get``. ``jobs.stream`` would
follow it too, but it has no overall limit and prints to stdout, so the job is polled here instead. azure-core's
own timeouts are 300 s per read with retries on top, so every management call also runs under our deadline.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bankmarketing_client.azureml.deadline import DEFAULT_MANAGEMENT_TIMEOUT, call_with_deadline
from bankmarketing_client.azureml.pipelines import TERMINAL_STATUSES
from bankmarketing_client.azureml.v2.discovery import check_endpoint_name
from bankmarketing_client.client import check_deployment
from bankmarketing_client.errors import AzureManagementError, ConfigurationError, StillRunning

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

logger = logging.getLogger(__name__)

InputType = Literal["uri_file", "uri_folder"]
INPUT_TYPES: tuple[InputType, ...] = ("uri_file", "uri_folder")

#: What Azure reads a batch job's input from: a public or storage URL, a datastore path, or a data asset
#: (``azureml:NAME:VERSION`` / ``azureml:NAME@latest``). Local paths would need an upload to the workspace's
#: datastore first (``az ml data create``), which is a separate, slow step we do not hide behind ``invoke``.
_REMOTE_PREFIXES = ("https://", "http://", "azureml://", "azureml:", "wasbs://", "abfss://")
#: A last path segment with a file extension ("customers.csv") names a file; anything else a folder.
_FILE_SEGMENT = re.compile(r"\.[A-Za-z0-9]{1,10}$")


class JobStillRunning(StillRunning):
    """The overall wait ran out before the job reached a final status (the job itself keeps running in Azure)."""

    def __init__(self, message: str, state: BatchJobState) -> None:
        super().__init__(message)
        self.state = state


@dataclass(frozen=True)
class BatchJobState:
    """What a batch job is doing now, and where to watch it in the studio."""

    name: str
    status: str
    studio_url: str | None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == "Completed"


def input_type_for(uri: str) -> InputType:
    """``uri_folder`` for a URI ending in ``/`` or naming no file, ``uri_file`` when its last segment has an
    extension (Azure fails the job later, not at invoke, when the type is wrong, so the guess is visible)."""
    path = uri.split("?", 1)[0].rstrip()
    if path.endswith("/"):
        return "uri_folder"
    return "uri_file" if _FILE_SEGMENT.search(path.rsplit("/", 1)[-1]) else "uri_folder"


def check_input_uri(uri: str) -> str:
    """A URI Azure can read the job's input from; a local path gets one line saying how to upload it."""
    if not uri.strip() or any(ch.isspace() for ch in uri.strip()):
        raise ConfigurationError(f"--input {uri!r}: expected a URI without spaces")
    if not uri.startswith(_REMOTE_PREFIXES):
        raise ConfigurationError(
            f"--input {uri!r}: not a URI Azure can read (https://, azureml://datastores/..., wasbs://, abfss:// "
            "or a data asset azureml:NAME:VERSION); upload a local file first, e.g. with `az ml data create`"
        )
    return uri


def invoke_batch_endpoint(
    ml_client: MLClient,
    name: str,
    input_uri: str,
    *,
    deployment: str | None = None,
    input_type: InputType | None = None,
    timeout: float = DEFAULT_MANAGEMENT_TIMEOUT,
) -> BatchJobState:
    """Start a job on batch endpoint ``name`` over ``input_uri``; return its name, status and studio URL.

    ``deployment`` picks a deployment instead of the endpoint's default one; ``input_type`` overrides the guess
    of :func:`input_type_for`. Each of the two management calls (invoke, then read the job back for its studio
    URL) runs under ``timeout`` seconds.
    """
    from azure.ai.ml import Input

    check_endpoint_name(name, kind="batch endpoint")
    if deployment is not None:
        check_deployment(deployment)
    kind = input_type or input_type_for(check_input_uri(input_uri))
    job_input = Input(type=kind, path=input_uri)

    def invoke() -> object:
        _forget_last_invocation()
        try:
            return ml_client.batch_endpoints.invoke(name, deployment_name=deployment, inputs={"input_data": job_input})
        finally:
            _forget_last_invocation()

    job = call_with_deadline(invoke, seconds=timeout, what=f"invoke batch endpoint {name!r}")
    job_name = getattr(job, "name", None)
    if not isinstance(job_name, str) or not job_name:
        raise AzureManagementError(f"batch endpoint {name!r} accepted the job but named none")
    logger.info("batch endpoint %s started job %s (%s input)", name, job_name, kind)
    return get_batch_job(ml_client, job_name, timeout=timeout)


def _forget_last_invocation() -> None:
    """Drop what azure-ai-ml 1.35's ``invoke`` leaves in its class-level default headers.

    It writes the call's ``azureml-model-deployment`` and bearer token into ``EndpointInvokeFields.DEFAULT_HEADER``
    itself, so a later invoke in the same process without a deployment would still send the earlier one (tested),
    and the token would stay in a global.
    """
    from azure.ai.ml.constants._endpoint import EndpointInvokeFields

    for header in (EndpointInvokeFields.MODEL_DEPLOYMENT, EndpointInvokeFields.AUTHORIZATION):
        EndpointInvokeFields.DEFAULT_HEADER.pop(header, None)


def get_batch_job(ml_client: MLClient, job_name: str, *, timeout: float = DEFAULT_MANAGEMENT_TIMEOUT) -> BatchJobState:
    """The job's current status and studio URL (one ``jobs.get`` under the deadline)."""
    job = call_with_deadline(lambda: ml_client.jobs.get(job_name), seconds=timeout, what=f"read job {job_name!r}")
    # azure-ai-ml gives a JobStatus enum for the statuses it knows, a plain string for any other.
    status = getattr(job.status, "value", job.status)
    if not isinstance(status, str) or not status:
        raise AzureManagementError(f"read job {job_name!r}: the answer has no status")
    return BatchJobState(name=job_name, status=status, studio_url=job.studio_url)


def follow_job(
    ml_client: MLClient,
    job_name: str,
    *,
    poll_interval: float = 15.0,
    run_timeout: float = 3600.0,
    request_timeout: float = DEFAULT_MANAGEMENT_TIMEOUT,
    on_status: Callable[[BatchJobState], None] | None = None,
) -> BatchJobState:
    """Read the job every ``poll_interval`` s until it is Completed, Failed or Canceled, and return that state.

    ``on_status`` hears each change of status. Raises :class:`JobStillRunning` (carrying the last state) when
    the job is not finished after ``run_timeout`` s; each read is bounded by ``request_timeout``.
    """
    if poll_interval <= 0 or run_timeout <= 0:
        raise ConfigurationError("the poll interval and the run timeout must be positive")
    give_up_at = time.monotonic() + run_timeout
    previous: str | None = None
    while True:
        state = get_batch_job(ml_client, job_name, timeout=request_timeout)
        if state.status != previous:
            logger.info("job %s: %s", job_name, state.status)
            if on_status is not None:
                on_status(state)
            previous = state.status
        if state.finished:
            return state
        remaining = give_up_at - time.monotonic()
        if remaining <= 0:
            raise JobStillRunning(
                f"job {job_name!r} is still {state.status} after {run_timeout:g} s of waiting "
                "(it keeps running in Azure; follow it in the studio)",
                state,
            )
        time.sleep(min(poll_interval, remaining))
