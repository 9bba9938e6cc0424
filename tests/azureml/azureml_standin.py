"""A local stand-in for the Azure ML management service, a published pipeline endpoint and run history.

It answers the routes azureml-core 1.61 really calls (read from its source: webservice.py, aci.py, aks.py)
with payloads shaped like Azure's, and records every request (method, path, query, headers, body) so the
tests can assert on what the real library code sent. It also checks the Azure AD bearer header like Azure.
Test modules load it as a plugin for its fixtures (PYTEST_DONT_REWRITE: it holds no asserts).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azureml.core import Workspace
from azureml.core.authentication import AbstractAuthentication, ArmTokenAuthentication

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
RESOURCE_GROUP = "rg-bank"
WORKSPACE = "ws-bank"
ARM_SCOPE = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
    f"/providers/Microsoft.MachineLearningServices/workspaces/{WORKSPACE}"
)
MMS_PREFIX = "/modelmanagement/v1.0" + ARM_SCOPE
AAD_TOKEN = "aad-token-for-tests"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def aci_payload(name: str, scoring_uri: str, *, auth_enabled: bool, app_insights: bool) -> dict[str, Any]:
    """A GET-service answer for an ACI deployment, with the keys AciWebservice validates."""
    return {
        "computeType": "ACI",
        "createdTime": "2021-06-01T10:00:00.000000+00:00",
        "updatedTime": "2021-06-01T10:05:00.000000+00:00",
        "description": "bank marketing AutoML best model",
        "kvTags": {},
        "name": name,
        "properties": {"hasInferenceSchema": "True"},
        "createdBy": {"userName": "tests"},
        "state": "Healthy",
        "appInsightsEnabled": app_insights,
        "authEnabled": auth_enabled,
        "cname": None,
        "containerResourceRequirements": {"cpu": 1.0, "memoryInGB": 2.0},
        "location": "westeurope",
        "publicIp": None,
        "publicFqdn": None,
        "scoringUri": scoring_uri,
        "sslCertificate": None,
        "sslEnabled": False,
        "sslKey": None,
    }


def aks_payload(name: str, scoring_uri: str, *, token_auth: bool) -> dict[str, Any]:
    """A GET-service answer for an AKS deployment, with the keys AksWebservice validates."""
    return {
        "computeType": "AKS",
        "createdTime": "2022-04-01T10:00:00.000000+00:00",
        "updatedTime": "2022-04-01T10:05:00.000000+00:00",
        "description": "bank marketing on AKS",
        "kvTags": {},
        "name": name,
        "properties": {},
        "createdBy": {"userName": "tests"},
        "state": "Healthy",
        "appInsightsEnabled": True,
        "authEnabled": not token_auth,
        "aadAuthEnabled": token_auth,
        "autoScaler": {
            "autoscaleEnabled": True,
            "maxReplicas": 3,
            "minReplicas": 1,
            "refreshPeriodInSeconds": 1,
            "targetUtilization": 70,
        },
        "computeName": "aks-bank",
        "containerResourceRequirements": {
            "cpu": 0.1,
            "cpuLimit": None,
            "memoryInGB": 0.5,
            "memoryInGBLimit": None,
            "gpu": 0,
        },
        "dataCollection": {"eventHubEnabled": False, "storageEnabled": False},
        "maxConcurrentRequestsPerContainer": 1,
        "maxQueueWaitMs": 500,
        "numReplicas": None,
        "scoringTimeoutMs": 60000,
        "scoringUri": scoring_uri,
        "livenessProbeRequirements": {
            "periodSeconds": 10,
            "initialDelaySeconds": 310,
            "timeoutSeconds": 2,
            "successThreshold": 1,
            "failureThreshold": 3,
        },
        "namespace": "azureml-ws-bank",
    }


@dataclass
class StandinState:
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)
    token_lifetime: float = 3600.0
    token_refresh_after: float = 1800.0
    clock: Callable[[], float] = time.time  # Azure's clock for token times; tests may share a fake one
    tokens_issued: int = 0
    token_value: str | None = None  # what to issue instead of "service-token-N"
    pipelines: set[str] = field(default_factory=set)
    runs: dict[str, list[str]] = field(default_factory=dict)  # run id -> statuses still to report
    run_experiment: dict[str, str] = field(default_factory=dict)


class ManagementStandin:
    """Threaded HTTP server on 127.0.0.1 (free port). Use as a context manager."""

    def __init__(self) -> None:
        self.state = StandinState()
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                record = Recorded(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with standin._lock:
                    standin.requests.append(record)
                    status, payload, extra = standin.route(record)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.mms_url = self.url + MMS_PREFIX
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ManagementStandin:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def requests_to(self, suffix: str, method: str | None = None) -> list[Recorded]:
        """Recorded requests whose path ends with ``suffix`` (and with ``method``, if given)."""
        return [r for r in self.requests if r.path.endswith(suffix) and (method is None or r.method == method)]

    # --- routing ---------------------------------------------------------------------------------------

    def route(self, req: Recorded) -> tuple[int, Any, dict[str, str]]:
        if req.headers.get("authorization") != f"Bearer {AAD_TOKEN}":
            return 401, {"error": {"code": "InvalidAuthenticationToken", "message": "bad token"}}, {}
        st = self.state
        if req.path.startswith(MMS_PREFIX + "/"):
            rest = req.path[len(MMS_PREFIX) + 1 :].split("/")
            if rest == ["services", "validate"] and req.method == "POST":
                return 200, {}, {}
            if rest[0] == "operations" and len(rest) == 2 and req.method == "GET":
                return 200, {"id": rest[1], "state": "Succeeded", "operationType": "Service"}, {}
            if rest[0] == "services" and len(rest) >= 2:
                name = rest[1]
                if name not in st.services:
                    return 404, {"error": {"code": "NotFound", "message": f"service {name} not found"}}, {}
                service = st.services[name]
                action = rest[2] if len(rest) == 3 else None
                if action is None and req.method == "GET":
                    return 200, service, {}
                if action is None and req.method == "PATCH":
                    for op in req.json():
                        if op["op"] in ("replace", "add") and op["path"].count("/") == 1:
                            service[op["path"][1:]] = op["value"]
                    op_id = f"op-{len(self.requests)}"
                    return 202, None, {"Operation-Location": f"{self.mms_url}/operations/{op_id}"}
                if action == "listkeys" and req.method == "POST":
                    primary, secondary = st.keys[name]
                    return 200, {"primaryKey": primary, "secondaryKey": secondary}, {}
                if action == "token" and req.method == "POST":
                    st.tokens_issued += 1
                    now = st.clock()
                    return (
                        200,
                        {
                            "accessToken": st.token_value or f"service-token-{st.tokens_issued}",
                            "tokenType": "Bearer",
                            "refreshAfter": int(now + st.token_refresh_after),
                            "expiryOn": int(now + st.token_lifetime),
                        },
                        {},
                    )
                if action == "logs" and req.method == "GET":
                    lines = st.logs.get(name, "").splitlines()
                    tail = int(req.query.get("tail", ["5000"])[0])
                    return 200, {"content": "\n".join(lines[-tail:])}, {}
        if req.path.startswith("/pipelines/v1.0" + ARM_SCOPE + "/PipelineRuns/PipelineSubmit/"):
            pipeline_id = req.path.rsplit("/", 1)[1]
            if pipeline_id not in st.pipelines or req.method != "POST":
                return 404, {"error": {"message": "pipeline not found"}}, {}
            body = req.json()
            run_id = f"run-{len(st.runs) + 1:04d}"
            st.runs[run_id] = ["NotStarted", "Running", "Running", "Completed"]
            st.run_experiment[run_id] = body["ExperimentName"]
            return 200, {"Id": run_id, "ExperimentName": body["ExperimentName"], "Status": None}, {}
        history = "/history/v1.0" + ARM_SCOPE + "/experiments/"
        if req.path.startswith(history) and req.method == "GET":
            experiment, _, run_id = req.path[len(history) :].split("/")
            if run_id not in st.runs or st.run_experiment[run_id] != experiment:
                return 404, {"error": {"message": "run not found"}}, {}
            queue = st.runs[run_id]
            status = queue.pop(0) if len(queue) > 1 else queue[0]
            return 200, {"runId": run_id, "status": status, "experimentId": "exp-1"}, {}
        return 404, {"error": {"message": f"no route for {req.method} {req.path}"}}, {}


@contextmanager
def silent_server() -> Iterator[str]:
    """A TCP port that accepts connections (the kernel completes the handshake) and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


# --- pytest fixtures (test modules load this file with ``pytest_plugins = ["azureml_standin"]``) -------------


@pytest.fixture
def standin() -> Iterator[ManagementStandin]:
    with ManagementStandin() as server:
        yield server


@pytest.fixture
def aad_auth() -> AbstractAuthentication:
    """A real azureml-core auth class holding a fixed ARM token: its real get_authentication_header() is used."""
    return ArmTokenAuthentication(AAD_TOKEN, cloud="AzureCloud")


@pytest.fixture
def workspace(
    standin: ManagementStandin, aad_auth: AbstractAuthentication, monkeypatch: pytest.MonkeyPatch
) -> Workspace:
    """A real azureml-core Workspace whose model-management URL points at the stand-in.

    Only the URL lookup is replaced (in Azure it comes from the workspace's service discovery); every request
    is built and sent by azureml-core's own code.
    """
    import azureml.core.webservice.webservice as webservice_module

    monkeypatch.setattr(webservice_module, "_get_mms_url", lambda _ws: standin.mms_url)
    return Workspace(SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE, auth=aad_auth, _disable_service_check=True)
