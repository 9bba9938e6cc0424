"""A loopback HTTPS stand-in of Azure Resource Manager and the Entra ID token endpoint, for azure-ai-ml tests.

The real azure-ai-ml and azure-identity code talks to it: azure-core refuses a bearer token over plain http, so it
speaks TLS with a certificate from a ``trustme`` test CA, whose PEM file the tests hand to the SDK (``ca_path``).
It records every request (method, path, query with ``api-version``, headers, body) and answers from a route table
that test modules extend (``standin.route("GET", r"regex")(handler)``). The built-in routes answer what ARM answers
for managed online endpoints (the REST shapes of ``specification/machinelearningservices``: onlineEndpoints get,
listKeys, token; onlineDeployments get, list, createOrUpdate as a long-running operation, getLogs), and the
OpenID discovery and token routes MSAL calls for a ``ClientSecretCredential`` whose ``authority`` is the stand-in.
ARM routes want a bearer token the stand-in issued for its own ARM audience (401 otherwise, as ARM does).
``/aad/score`` plays an ``aad_token`` online endpoint: it wants a token issued for ``https://ml.azure.com/.default``
and forwards the request, with the key, to a real local endpoint (``state.aad_upstream``).
Test modules load it as a plugin for its fixtures (``pytest_plugins = ["arm_standin"]``; PYTEST_DONT_REWRITE:
it holds no asserts).

THE SEAM (the one place the SDK is pointed here, all through documented settings, nothing patched): azure-ai-ml's
custom-cloud keywords ``MLClient(..., cloud=NAME, cloud_metadata={...})`` (our :class:`CustomCloud`) name the
stand-in as Resource Manager; azure-identity's ``authority=`` with ``disable_instance_discovery=True`` names it as
the Entra ID authority; azure-core's ``connection_verify=`` hands both the test CA.
"""

from __future__ import annotations

import json
import re
import secrets
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import trustme
from azure.ai.ml import MLClient
from azure.core.credentials import TokenCredential

from bankmarketing_client.azureml.v2.workspace import CustomCloud, make_credential, open_ml_client
from bankmarketing_client.azureml.workspace import WorkspaceRef
from bankmarketing_client.local.endpoint import LocalEndpoint

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
RESOURCE_GROUP = "rg-bank"
WORKSPACE = "ws-bank"
TENANT = "72f988bf-0000-4000-8000-000000000001"
AML_SCOPE = "https://ml.azure.com/.default"
CLIENT_ID = "11111111-2222-4333-8444-555555555555"
#: A test secret, which the tests prove never appears in any output.
CLIENT_SECRET = "sp-secret-for-tests-7f3a"
WORKSPACE_SCOPE = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
    f"/providers/Microsoft.MachineLearningServices/workspaces/{WORKSPACE}"
)
_NAME = r"[A-Za-z0-9][A-Za-z0-9-]*"
ENDPOINT_PATH = re.escape(WORKSPACE_SCOPE) + rf"/onlineEndpoints/(?P<endpoint>{_NAME})"
DEPLOYMENT_PATH = ENDPOINT_PATH + rf"/deployments/(?P<deployment>{_NAME})"

SYSTEM_DATA = {
    "createdBy": "tests@contoso.com",
    "createdByType": "User",
    "createdAt": "2026-11-02T10:00:00.000000+00:00",
    "lastModifiedBy": "tests@contoso.com",
    "lastModifiedByType": "User",
    "lastModifiedAt": "2026-11-02T10:05:00.000000+00:00",
}
#: Retry-After on long-running operations: a fraction of a second (azure-core takes "0" as "no hint" and then
#: waits its default 30 s, or azure-ai-ml's 5 s).
POLL_AFTER = "0.05"
#: ARM's names for the auth modes (azure-ai-ml maps them to key, aml_token, aad_token).
REST_AUTH_MODES = {"key": "Key", "aml_token": "AMLToken", "aad_token": "AADToken"}
#: getLogs' containerType values.
REST_CONTAINERS = {"inference-server": "InferenceServer", "storage-initializer": "StorageInitializer"}


@dataclass(frozen=True)
class Recorded:
    """One request as the stand-in received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def api_version(self) -> str | None:
        return self.query.get("api-version", [None])[0]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    """What a route answers: a status, a JSON body (or raw bytes) and extra headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Recorded, "re.Match[str]"], Reply]


def arm_error(status: int, code: str, message: str) -> Reply:
    """ARM's error envelope."""
    return Reply(status, {"error": {"code": code, "message": message}})


def workspace(url: str) -> dict[str, Any]:
    """A workspaces GET answer (the fields azure-ai-ml reads)."""
    return {
        "id": WORKSPACE_SCOPE,
        "name": WORKSPACE,
        "type": "Microsoft.MachineLearningServices/workspaces",
        "location": "westeurope",
        "kind": "Default",
        "identity": {"type": "SystemAssigned", "principalId": "p-0", "tenantId": TENANT},
        "sku": {"name": "Basic", "tier": "Basic"},
        "tags": {},
        "properties": {
            "friendlyName": WORKSPACE,
            "workspaceId": "9a8b7c6d-0000-4000-8000-00000000000a",
            "discoveryUrl": f"{url}/discovery",
            "mlFlowTrackingUri": f"azureml://westeurope.api.azureml.ms/mlflow/v1.0{WORKSPACE_SCOPE}",
            "provisioningState": "Succeeded",
            "publicNetworkAccess": "Enabled",
            "hbiWorkspace": False,
            "v1LegacyMode": False,
        },
        "systemData": SYSTEM_DATA,
    }


def online_endpoint(
    name: str,
    scoring_uri: str,
    *,
    auth_mode: str = "key",
    traffic: dict[str, int] | None = None,
    mirror: dict[str, int] | None = None,
) -> dict[str, Any]:
    """An onlineEndpoints GET answer (2022-02-01-preview shape). ``scoring_uri`` is a real local endpoint."""
    base = scoring_uri.rsplit("/", 1)[0]
    return {
        "id": f"{WORKSPACE_SCOPE}/onlineEndpoints/{name}",
        "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
        "location": "westeurope",
        "kind": "Managed",
        "identity": {"type": "SystemAssigned", "principalId": "p-1", "tenantId": TENANT},
        "tags": {},
        "properties": {
            "authMode": REST_AUTH_MODES[auth_mode],
            "description": "bank marketing classifier",
            "properties": {"azureml.onlineendpointid": f"{WORKSPACE_SCOPE}/onlineEndpoints/{name}"},
            "scoringUri": scoring_uri,
            "swaggerUri": f"{base}/swagger.json",
            "traffic": traffic if traffic is not None else {},
            "mirrorTraffic": mirror or {},
            "provisioningState": "Succeeded",
            "publicNetworkAccess": "Enabled",
        },
        "systemData": SYSTEM_DATA,
    }


def online_deployment(
    endpoint: str,
    name: str,
    *,
    instance_type: str = "Standard_DS3_v2",
    instance_count: int = 1,
    max_concurrent: int = 1,
    request_timeout_ms: int = 5000,
    app_insights: bool = False,
) -> dict[str, Any]:
    """An onlineDeployments GET answer (2023-04-01-preview shape) for a managed deployment."""
    models = f"{WORKSPACE_SCOPE}/models/bank-marketing/versions/1"
    return {
        "id": f"{WORKSPACE_SCOPE}/onlineEndpoints/{endpoint}/deployments/{name}",
        "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
        "location": "westeurope",
        "kind": "Managed",
        "tags": {},
        "sku": {"name": "Default", "tier": "Standard", "capacity": instance_count},
        "properties": {
            "endpointComputeType": "Managed",
            "instanceType": instance_type,
            "model": models,
            "environmentId": f"{WORKSPACE_SCOPE}/environments/sklearn-env/versions/3",
            "codeConfiguration": {
                "codeId": f"{WORKSPACE_SCOPE}/codes/score-code/versions/1",
                "scoringScript": "score.py",
            },
            "environmentVariables": {},
            "properties": {},
            "appInsightsEnabled": app_insights,
            "egressPublicNetworkAccess": "Enabled",
            "requestSettings": {
                "maxConcurrentRequestsPerInstance": max_concurrent,
                "requestTimeout": f"PT{request_timeout_ms / 1000:g}S",
                "maxQueueWait": "PT0.5S",
            },
            "scaleSettings": {"scaleType": "Default"},
            "livenessProbe": {
                "failureThreshold": 30,
                "initialDelay": "PT10S",
                "period": "PT10S",
                "successThreshold": 1,
                "timeout": "PT2S",
            },
            "provisioningState": "Succeeded",
        },
        "systemData": SYSTEM_DATA,
    }


@dataclass
class ArmState:
    """What the built-in routes serve; tests fill it in."""

    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: ``endpoint -> provider`` of aml_token answers (``LocalEndpoint.get_token`` fits).
    tokens: dict[str, Callable[[], dict[str, Any]]] = field(default_factory=dict)
    #: ``(endpoint, deployment, containerType) -> log text``.
    logs: dict[tuple[str, str, str], str] = field(default_factory=dict)
    #: How many status polls a deployment update answers ``InProgress`` before ``Succeeded``.
    lro_polls: int = 1
    #: ``(scoring URI, key)`` of the local endpoint ``/aad/score`` forwards to.
    aad_upstream: tuple[str, str] | None = None


class ArmStandin:
    """The HTTPS server, its route table and its record of requests."""

    def __init__(self, ca: trustme.CA, ca_path: Path) -> None:
        self.ca_path = ca_path
        self.state = ArmState()
        self.requests: list[Recorded] = []
        #: token -> the scope it was issued for
        self.issued_tokens: dict[str, str] = {}
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._operations: dict[str, int] = {}
        self._lock = threading.Lock()
        self._released = threading.Event()  # ends the silent routes' waits when the stand-in stops
        standin = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                recorded = Recorded(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
                with standin._lock:
                    standin.requests.append(recorded)
                reply = standin.dispatch(recorded)
                payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("x-ms-request-id", secrets.token_hex(8))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self._server.daemon_threads = True
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._install_builtin_routes()

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def __enter__(self) -> ArmStandin:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    # -- routing -----------------------------------------------------------------------------------------------
    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        """Register ``handler(request, match)`` for ``method`` and a path regex (full match); later routes win."""

        def register(handler: Handler) -> Handler:
            self._routes.insert(0, (method.upper(), re.compile(pattern), handler))
            return handler

        return register

    def silence(self, method: str, pattern: str) -> None:
        """Make a route accept requests and never answer (a proxy that swallows them) until the stand-in stops."""

        @self.route(method, pattern)
        def never(request: Recorded, match: re.Match[str]) -> Reply:
            self._released.wait(60)
            return Reply(504, {})

    def dispatch(self, request: Recorded) -> Reply:
        for method, pattern, handler in list(self._routes):
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                arm = match.re.pattern.startswith(re.escape("/subscriptions/"))
                if arm and not self._authorized(request, f"{self.url}/.default"):
                    return arm_error(401, "InvalidAuthenticationToken", "The access token is invalid.")
                return handler(request, match)
        return arm_error(404, "ResourceNotFound", f"no stand-in route for {request.method} {request.path}")

    def _authorized(self, request: Recorded, scope: str) -> bool:
        """A bearer token this stand-in issued for ``scope`` (ARM's audience, or Azure ML's)."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        with self._lock:
            issued = list(self.issued_tokens.items())
        return scheme == "Bearer" and any(secrets.compare_digest(token, t) and s == scope for t, s in issued)

    def finish_operations(self) -> None:
        """Let every long-running operation succeed at its next poll (an abandoned poller then stops)."""
        for operation in self._operations:
            self._operations[operation] = 0

    def requests_to(self, suffix: str, method: str | None = None) -> list[Recorded]:
        """The recorded requests whose path ends with ``suffix`` (and with ``method``, if given)."""
        return [r for r in self.requests if r.path.endswith(suffix) and (method is None or r.method == method)]

    def arm_requests(self) -> list[Recorded]:
        """The recorded requests to ARM (not to the token endpoint)."""
        return [r for r in self.requests if r.path.startswith("/subscriptions/")]

    # -- a real local endpoint as a managed online endpoint --------------------------------------------------------
    def serve_local_endpoint(
        self, name: str, local: LocalEndpoint, *, app_insights: bool = False, instance_type: str = "Standard_DS3_v2"
    ) -> None:
        """Answer for online endpoint ``name`` what ARM would for ``local``: its scoring URI, auth mode, traffic
        and mirror split, each deployment's own limits, and its keys or (``aml_token``) fresh tokens."""
        routing = local.routing
        traffic = dict(routing.traffic or {})
        self.state.endpoints[name] = online_endpoint(
            name, local.scoring_uri, auth_mode=local.auth_mode, traffic=traffic, mirror=dict(routing.mirror or {})
        )
        for spec in routing.deployments:
            self.state.deployments[(name, spec.name)] = online_deployment(
                name,
                spec.name,
                instance_type=instance_type,
                instance_count=spec.limits.instance_count,
                max_concurrent=spec.limits.max_concurrent_requests_per_instance,
                request_timeout_ms=spec.limits.request_timeout_ms,
                app_insights=app_insights,
            )
        if local.auth_mode == "aml_token":
            self.state.tokens[name] = local.get_token
        else:
            self.state.keys[name] = (local.primary_key, local.secondary_key)

    # -- tokens ----------------------------------------------------------------------------------------------------
    def issue_token(self, scope: str) -> str:
        token = "eyJ0eXAiOiJKV1Qi." + secrets.token_urlsafe(24)
        with self._lock:
            self.issued_tokens[token] = scope
        return token

    def tokens_for(self, scope: str) -> list[str]:
        """The tokens issued for ``scope``, oldest first."""
        with self._lock:
            return [t for t, s in self.issued_tokens.items() if s == scope]

    def _install_builtin_routes(self) -> None:
        state = self.state
        tenant = r"/(?P<tenant>[^/]+)"

        @self.route("GET", tenant + r"/v2\.0/\.well-known/openid-configuration")
        def openid_configuration(request: Recorded, match: re.Match[str]) -> Reply:
            base = f"{self.url}/{match['tenant']}"
            return Reply(
                200,
                {
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                    "issuer": f"{base}/v2.0",
                    "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
                    "response_types_supported": ["code", "id_token", "code id_token", "token id_token"],
                    "scopes_supported": ["openid", "profile", "email", "offline_access"],
                },
            )

        @self.route("POST", tenant + r"/oauth2/v2\.0/token")
        def token(request: Recorded, match: re.Match[str]) -> Reply:
            form = parse_qs(request.body.decode())
            good = (
                match["tenant"] == TENANT
                and form.get("client_id") == [CLIENT_ID]
                and form.get("client_secret") == [CLIENT_SECRET]
                and form.get("grant_type") == ["client_credentials"]
            )
            if not good:
                return Reply(
                    401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret."}
                )
            return Reply(
                200,
                {
                    "token_type": "Bearer",
                    "expires_in": 3599,
                    "ext_expires_in": 3599,
                    "access_token": self.issue_token(form.get("scope", [""])[0].split()[0]),
                },
            )

        @self.route("GET", re.escape(WORKSPACE_SCOPE))
        def get_workspace(request: Recorded, match: re.Match[str]) -> Reply:
            return Reply(200, workspace(self.url))

        @self.route("GET", ENDPOINT_PATH)
        def get_endpoint(request: Recorded, match: re.Match[str]) -> Reply:
            found = state.endpoints.get(match["endpoint"])
            if found is None:
                return arm_error(404, "ResourceNotFound", f"online endpoint {match['endpoint']} not found")
            return Reply(200, found)

        @self.route("POST", ENDPOINT_PATH + "/listKeys")
        def list_keys(request: Recorded, match: re.Match[str]) -> Reply:
            keys = state.keys.get(match["endpoint"])
            if keys is None:
                return arm_error(400, "BadArgument", "listKeys applies to endpoints in Key auth mode")
            return Reply(200, {"primaryKey": keys[0], "secondaryKey": keys[1]})

        @self.route("POST", ENDPOINT_PATH + "/token")
        def get_token(request: Recorded, match: re.Match[str]) -> Reply:
            provider = state.tokens.get(match["endpoint"])
            if provider is None:
                return arm_error(400, "BadArgument", "token applies to endpoints in AMLToken auth mode")
            return Reply(200, provider())

        @self.route("GET", ENDPOINT_PATH + "/deployments")
        def list_deployments(request: Recorded, match: re.Match[str]) -> Reply:
            found = [d for (e, _), d in state.deployments.items() if e == match["endpoint"]]
            return Reply(200, {"value": found})

        @self.route("GET", DEPLOYMENT_PATH)
        def get_deployment(request: Recorded, match: re.Match[str]) -> Reply:
            found = state.deployments.get((match["endpoint"], match["deployment"]))
            if found is None:
                return arm_error(404, "ResourceNotFound", f"deployment {match['deployment']} not found")
            return Reply(200, found)

        @self.route("PUT", DEPLOYMENT_PATH)
        def put_deployment(request: Recorded, match: re.Match[str]) -> Reply:
            key = (match["endpoint"], match["deployment"])
            if key not in state.deployments:
                return arm_error(404, "ResourceNotFound", f"deployment {match['deployment']} not found")
            sent = request.json()
            updated = json.loads(json.dumps(state.deployments[key]))
            updated["properties"]["appInsightsEnabled"] = bool(sent["properties"].get("appInsightsEnabled"))
            updated["properties"]["provisioningState"] = "Updating"
            state.deployments[key] = updated
            operation = secrets.token_hex(6)
            self._operations[operation] = state.lro_polls
            status_url = f"{self.url}{WORKSPACE_SCOPE}/operations/{operation}?api-version={request.api_version}"
            return Reply(201, updated, {"Azure-AsyncOperation": status_url, "Retry-After": POLL_AFTER})

        @self.route("GET", re.escape(WORKSPACE_SCOPE) + r"/operations/(?P<operation>[0-9a-f]+)")
        def operation_status(request: Recorded, match: re.Match[str]) -> Reply:
            left = self._operations.get(match["operation"])
            if left is None:
                return arm_error(404, "ResourceNotFound", "no such operation")
            if left > 0:
                self._operations[match["operation"]] = left - 1
                return Reply(200, {"status": "InProgress"}, {"Retry-After": POLL_AFTER})
            for deployment in state.deployments.values():
                deployment["properties"]["provisioningState"] = "Succeeded"
            return Reply(200, {"status": "Succeeded"})

        @self.route("POST", r"/aad/score")
        def aad_score(request: Recorded, match: re.Match[str]) -> Reply:
            if not self._authorized(request, AML_SCOPE):
                return Reply(401, b"", {"WWW-Authenticate": 'Bearer realm="aad_token"'})
            assert state.aad_upstream is not None, "set state.aad_upstream to a local endpoint first"
            uri, key = state.aad_upstream
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            if "azureml-model-deployment" in request.headers:
                headers["azureml-model-deployment"] = request.headers["azureml-model-deployment"]
            answer = httpx.post(uri, content=request.body, headers=headers, timeout=30)
            passed = {k: v for k, v in answer.headers.items() if k.lower() == "azureml-model-deployment"}
            return Reply(answer.status_code, answer.content, passed)

        @self.route("POST", DEPLOYMENT_PATH + "/getLogs")
        def get_logs(request: Recorded, match: re.Match[str]) -> Reply:
            sent = request.json()
            container = sent.get("containerType", "InferenceServer")
            text = state.logs.get((match["endpoint"], match["deployment"], container), "")
            tail = sent.get("tail")
            lines = text.splitlines(keepends=True)
            return Reply(200, {"content": "".join(lines[-tail:] if tail else lines)})


def make_ca_file(ca: trustme.CA, folder: Path) -> Path:
    """The test CA's certificate as a PEM file, for ``connection_verify``."""
    path = folder / "standin-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


# --- pytest fixtures ------------------------------------------------------------------------------------------
@pytest.fixture
def arm_standin(tmp_path: Path) -> Iterator[ArmStandin]:
    ca = trustme.CA()
    with ArmStandin(ca, make_ca_file(ca, tmp_path)) as standin:
        yield standin


@pytest.fixture
def sp_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The service principal the stand-in accepts, in the ``AZURE_*`` variables azure-identity reads."""
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    # MLClient records its cloud in the process environment; the test's value is dropped again afterwards.
    monkeypatch.setenv("AZUREML_CURRENT_CLOUD", "AzureCloud")


@pytest.fixture
def workspace_args(
    arm_standin: ArmStandin, sp_environment: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> list[str]:
    """The CLI options naming the stand-in's workspace and cloud; the CA and the service principal in the environment."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(arm_standin.ca_path))
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"subscription_id": SUBSCRIPTION, "resource_group": RESOURCE_GROUP, "workspace_name": WORKSPACE})
    )
    return [
        "--config",
        str(config),
        "--auth",
        "service-principal",
        "--arm-endpoint",
        arm_standin.url,
        "--authority",
        arm_standin.url,
        "--management-timeout",
        "20",
    ]


@pytest.fixture
def standin_credential(arm_standin: ArmStandin, sp_environment: None) -> TokenCredential:
    """A real azure-identity ``ClientSecretCredential`` whose authority is the stand-in."""
    return make_credential(
        "service-principal",
        authority=arm_standin.url,
        connection_verify=str(arm_standin.ca_path),
        disable_instance_discovery=True,
    )


@pytest.fixture
def standin_cloud(arm_standin: ArmStandin) -> CustomCloud:
    return CustomCloud(resource_manager=arm_standin.url, active_directory=arm_standin.url)


@pytest.fixture
def ml_client(arm_standin: ArmStandin, standin_credential: TokenCredential, standin_cloud: CustomCloud) -> MLClient:
    """A real ``MLClient`` for the stand-in's workspace (through the seam above)."""
    ref = WorkspaceRef(SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE)
    return open_ml_client(ref, standin_credential, cloud=standin_cloud, connection_verify=str(arm_standin.ca_path))
