"""Optional Azure ML workspace integration: discovery, keys, tokens, logs, Application Insights, pipelines.

This package speaks SDK v1 (azureml-core: ACI/AKS web services, published pipelines; the ``azureml`` extra);
:mod:`.v2` speaks SDK v2 (azure-ai-ml: managed online endpoints, batch endpoints; the ``azureml-v2`` extra).
Importing either imports no Azure SDK. Every management call runs under a deadline (see :mod:`.deadline`).
"""

from __future__ import annotations

from bankmarketing_client.azureml.deadline import DEFAULT_MANAGEMENT_TIMEOUT, call_with_deadline
from bankmarketing_client.azureml.discovery import (
    ServiceEndpoint,
    ServiceTokenProvider,
    build_async_client,
    build_client,
    describe_service,
    discover_service,
    get_webservice,
)
from bankmarketing_client.azureml.logs import AppInsightsChange, enable_app_insights, fetch_logs
from bankmarketing_client.azureml.pipelines import RunHistory, trigger_pipeline, wait_for_run
from bankmarketing_client.azureml.workspace import WorkspaceRef, make_auth, open_workspace

__all__ = [
    "DEFAULT_MANAGEMENT_TIMEOUT",
    "AppInsightsChange",
    "RunHistory",
    "ServiceEndpoint",
    "ServiceTokenProvider",
    "WorkspaceRef",
    "build_async_client",
    "build_client",
    "call_with_deadline",
    "describe_service",
    "discover_service",
    "enable_app_insights",
    "fetch_logs",
    "get_webservice",
    "make_auth",
    "open_workspace",
    "trigger_pipeline",
    "wait_for_run",
]
