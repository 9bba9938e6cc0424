"""Batch-endpoint routes for the ARM stand-in: the endpoint's GET, its invocation URI, and the job it starts.

What azure-ai-ml's ``batch_endpoints.invoke`` and ``jobs.get`` call (read from azure-ai-ml 1.35's
``_batch_endpoint_operations.py`` and ``_job_operations.py``; shapes from ``specification/machinelearningservices``
batchEndpoints, batchDeployments and jobs): ARM ``GET .../batchEndpoints/{name}``, then a POST of the job to the
endpoint's own ``scoringUri`` with an Entra ID bearer token for ``https://ml.azure.com`` (not ARM's), which answers
the new batch job; then ARM ``GET .../jobs/{name}``, whose status walks through the statuses a test lays out and
whose ``services.Studio.endpoint`` is the studio link. A job may fail with ARM's error envelope on the invocation
and a route may never answer (``BatchState.silent``), for the deadline. Loaded as a plugin beside ``arm_standin``
(PYTEST_DONT_REWRITE: it holds no asserts, and the test module also imports it by name).
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from arm_standin import (
    AML_SCOPE,
    SYSTEM_DATA,
    TENANT,
    WORKSPACE_SCOPE,
    ArmStandin,
    Handler,
    Recorded,
    Reply,
    arm_error,
)

_NAME = r"[A-Za-z0-9][A-Za-z0-9-]*"
BATCH_ENDPOINT_PATH = re.escape(WORKSPACE_SCOPE) + rf"/batchEndpoints/(?P<endpoint>{_NAME})"
JOB_PATH = re.escape(WORKSPACE_SCOPE) + rf"/jobs/(?P<job>{_NAME})"
#: Where the stand-in's batch endpoints take jobs (Azure's is https://NAME.REGION.inference.ml.azure.com/jobs).
INVOKE_PATH = rf"/inference/(?P<endpoint>{_NAME})/jobs"


@dataclass
class BatchJobPlan:
    """What one endpoint's next job does: the statuses its GETs walk through (the last one repeats)."""

    statuses: list[str] = field(default_factory=lambda: ["Running", "Completed"])


@dataclass
class BatchState:
    """Batch endpoints, their deployments and the jobs they started."""

    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[str, list[str]] = field(default_factory=dict)
    plans: dict[str, BatchJobPlan] = field(default_factory=dict)
    #: ``job name -> (its endpoint, the statuses still to answer)``.
    jobs: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    #: The invocation answers this ARM error (status, code, message) instead of starting a job.
    invoke_error: tuple[int, str, str] | None = None
    #: Paths (regex) whose requests the batch routes hold without an answer until the stand-in stops.
    silent: set[str] = field(default_factory=set)
    release: threading.Event = field(default_factory=threading.Event)


def batch_endpoint(url: str, name: str, *, default_deployment: str = "bank-batch") -> dict[str, Any]:
    """A batchEndpoints GET answer (2023-10-01 shape): AAD auth, the invocation URI, the default deployment."""
    return {
        "id": f"{WORKSPACE_SCOPE}/batchEndpoints/{name}",
        "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces/batchEndpoints",
        "location": "westeurope",
        "kind": "",
        "identity": {"type": "SystemAssigned", "principalId": "p-2", "tenantId": TENANT},
        "tags": {},
        "properties": {
            "authMode": "AADToken",
            "description": "bank marketing batch scoring",
            "properties": {"BatchEndpointCreationApiVersion": "2023-10-01"},
            "scoringUri": f"{url}/inference/{name}/jobs",
            "swaggerUri": None,
            "defaults": {"deploymentName": default_deployment},
            "provisioningState": "Succeeded",
        },
        "systemData": SYSTEM_DATA,
    }


def batch_deployment(endpoint: str, name: str) -> dict[str, Any]:
    """A batchDeployments list item (2023-10-01 shape), enough for azure-ai-ml's deployment-name check."""
    return {
        "id": f"{WORKSPACE_SCOPE}/batchEndpoints/{endpoint}/deployments/{name}",
        "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces/batchEndpoints/deployments",
        "location": "westeurope",
        "tags": {},
        "properties": {
            "model": {"referenceType": "Id", "assetId": f"{WORKSPACE_SCOPE}/models/bank-marketing/versions/1"},
            "compute": f"{WORKSPACE_SCOPE}/computes/batch-cluster",
            "miniBatchSize": 10,
            "outputAction": "AppendRow",
            "outputFileName": "predictions.csv",
            "errorThreshold": -1,
            "loggingLevel": "Info",
            "provisioningState": "Succeeded",
        },
        "systemData": SYSTEM_DATA,
    }


def job_resource(name: str, status: str, endpoint: str) -> dict[str, Any]:
    """A jobs GET answer for the pipeline job a batch endpoint runs (2024-01-01-preview shape)."""
    studio = f"https://ml.azure.com/runs/{name}?wsid={WORKSPACE_SCOPE}"
    return {
        "id": f"{WORKSPACE_SCOPE}/jobs/{name}",
        "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces/jobs",
        "properties": {
            "jobType": "Pipeline",
            "displayName": name,
            "experimentName": endpoint,
            "status": status,
            "isArchived": False,
            "properties": {"azureml.batchrun": "true"},
            "tags": {},
            "services": {"Studio": {"jobServiceType": "Studio", "endpoint": studio}},
            "inputs": {},
            "outputs": {},
            "jobs": {},
            "settings": {},
        },
        "systemData": SYSTEM_DATA,
    }


def bearer_for_azure_ml(standin: ArmStandin, request: Recorded) -> bool:
    """A bearer token the stand-in issued for Azure ML's audience (an ARM token is refused, as Azure does)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme == "Bearer" and any(secrets.compare_digest(token, t) for t in standin.tokens_for(AML_SCOPE))


def install_batch_routes(standin: ArmStandin) -> BatchState:
    """Add the batch routes to ``standin``; the returned state is what they serve."""
    state = BatchState()

    def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
        """``standin.route``, but a request to a path in ``state.silent`` is held unanswered until teardown."""

        def register(handler: Handler) -> Handler:
            def answer(request: Recorded, match: re.Match[str]) -> Reply:
                if any(re.fullmatch(silent, request.path) for silent in state.silent):
                    state.release.wait()
                    return arm_error(504, "GatewayTimeout", "released at teardown")
                return handler(request, match)

            return standin.route(method, pattern)(answer)

        return register

    @route("GET", BATCH_ENDPOINT_PATH)
    def get_endpoint(request: Recorded, match: re.Match[str]) -> Reply:
        found = state.endpoints.get(match["endpoint"])
        if found is None:
            return arm_error(404, "ResourceNotFound", f"batch endpoint {match['endpoint']} not found")
        return Reply(200, found)

    @route("GET", BATCH_ENDPOINT_PATH + "/deployments")
    def list_deployments(request: Recorded, match: re.Match[str]) -> Reply:
        names = state.deployments.get(match["endpoint"], [])
        return Reply(200, {"value": [batch_deployment(match["endpoint"], n) for n in names]})

    @route("POST", INVOKE_PATH)
    def invoke(request: Recorded, match: re.Match[str]) -> Reply:
        # The invocation URI is the endpoint's own host in Azure, not ARM: it checks the Entra ID token itself.
        if not bearer_for_azure_ml(standin, request):
            return arm_error(401, "InvalidAuthenticationToken", "The access token is invalid.")
        if state.invoke_error is not None:
            return arm_error(*state.invoke_error)
        endpoint = match["endpoint"]
        name = f"batchjob-{secrets.token_hex(4)}-{secrets.token_hex(2)}"
        state.jobs[name] = (endpoint, list(state.plans.get(endpoint, BatchJobPlan()).statuses))
        body = {
            "id": f"{WORKSPACE_SCOPE}/batchEndpoints/{endpoint}/jobs/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/batchEndpoints/jobs",
            "properties": {**request.json().get("properties", {}), "status": "NotStarted"},
            "systemData": SYSTEM_DATA,
        }
        return Reply(200, body)

    @route("GET", JOB_PATH)
    def get_job(request: Recorded, match: re.Match[str]) -> Reply:
        found = state.jobs.get(match["job"])
        if found is None:
            return arm_error(404, "ResourceNotFound", f"job {match['job']} not found")
        endpoint, statuses = found
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        return Reply(200, job_resource(match["job"], status, endpoint))

    return state


@pytest.fixture
def batch_state(arm_standin: ArmStandin) -> Iterator[BatchState]:
    state = install_batch_routes(arm_standin)
    yield state
    state.release.set()  # let held requests end before the server stops
