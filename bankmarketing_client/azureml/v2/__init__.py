"""Azure ML SDK v2 (azure-ai-ml): managed online endpoints and batch endpoints of a workspace.

Needs the ``azureml-v2`` extra (azure-ai-ml, azure-identity) only when a function talks to Azure; importing this
package imports neither. Every management call runs under the deadline of :mod:`bankmarketing_client.azureml`.
"""

from __future__ import annotations

from bankmarketing_client.azureml.v2.batch_endpoints import (
    BatchJobState,
    JobStillRunning,
    follow_job,
    get_batch_job,
    invoke_batch_endpoint,
)
from bankmarketing_client.azureml.v2.discovery import (
    DeploymentInfo,
    EndpointTokenProvider,
    OnlineEndpointInfo,
    build_async_client,
    build_client,
    discover_online_endpoint,
)
from bankmarketing_client.azureml.v2.logs import enable_deployment_app_insights, fetch_deployment_logs
from bankmarketing_client.azureml.v2.workspace import CustomCloud, make_credential, open_ml_client

__all__ = [
    "BatchJobState",
    "CustomCloud",
    "DeploymentInfo",
    "EndpointTokenProvider",
    "JobStillRunning",
    "OnlineEndpointInfo",
    "build_async_client",
    "build_client",
    "discover_online_endpoint",
    "enable_deployment_app_insights",
    "fetch_deployment_logs",
    "follow_job",
    "get_batch_job",
    "invoke_batch_endpoint",
    "make_credential",
    "open_ml_client",
]
