"""Azure's endpoint layer in front of the local scoring container.

The inference server does no authentication, closes every connection and turns every failure into a 4xx/500.
In Azure, the endpoint's front does more, and this module does the same locally (FIELD-NOTES section 3):

* ``Authorization: Bearer <key>`` on ``/score``, primary or secondary key, compared in constant time: else 401;
  with ``auth_mode="aml_token"``, a token of this run's (:mod:`.tokens`) that has not expired instead;
* several deployments (:class:`~.limits.Routing`), each its own container with its own limits and counters: live
  traffic split by weight with a seeded RNG, ``azureml-model-deployment: NAME`` picks one regardless of weight
  (an unknown name is 404), 404 when no deployment has positive weight and no header picks one, a share mirrored
  to a deployment whose answers are discarded; every answer from a deployment names it in the same header;
* 413 past a body size limit, 429 when more requests are pending than allowed, 408 past the request timeout;
* 424 with ``ms-azureml-model-error-statuscode`` / ``-reason`` for any non-200 from the container;
* 503 at once when the container does not accept connections, 502 when it drops one;
* keep-alive to clients, request ids passed through or generated;
* opt-in faults (:mod:`bankmarketing_client.local.faults`).

Health and swagger stay open, as in Azure. Keys arrive through the environment, never argv, and are never logged.
The admin routes (``/__local/stats``, ``/__local/traffic``) stand for Azure's management plane: they take an admin
key of their own, compared in constant time, and a scoring key or token gets 401 there.

Hostile input is refused here, before anything reaches the container:

* the container gets the route's own path and a query re-encoded from its decoded parameters, never the caller's
  bytes; a query that is not UTF-8 once percent-decoded, or holds control characters (CR, LF, ...), is 400;
* the headers it gets (``Content-Type``, ``x-ms-client-request-id``, the request id) must be printable ASCII and
  appear once, else 400; ``Authorization`` must appear once and decode as UTF-8, else 400 (before the key check);
* a body is read, bounded in size (413) and time (``request_timeout_ms``, 408), before the request counts as
  pending, so slow uploads cannot take the pending slots of others;
* a connection must complete its request headers within ``header_timeout_ms`` of opening, or of its previous
  answer (aiohttp's keep-alive timer), or it is closed;
* aiohttp's parser refuses malformed requests (400) and would log the offending line, header values and keys
  included, with a traceback: those records become one rate-limited line naming the fault
  (:class:`ParseErrorFilter`).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import random
import signal
import socket
import sys
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import quote, urlsplit

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from bankmarketing_client.forwarding import (
    BadRequest,
    forwardable_header,
    forwardable_query,
    printable_ascii,
    server_logger,
)
from bankmarketing_client.local.faults import Fault, FaultInjector, FaultSpec
from bankmarketing_client.local.limits import FrontLimits, Routing
from bankmarketing_client.local.tokens import TokenIssuer

log = logging.getLogger("bankmarketing_client.local.front")

CONFIG_ENV: Final = "BANKMARKETING_FRONT_CONFIG"
READY_PREFIX: Final = "FRONT READY "
#: The admin routes, which change or reveal the endpoint's state: Azure's management plane, not its scoring surface.
#: They take ``Authorization: Bearer <admin key>``, a key of their own: no scoring key or token opens them.
STATS_PATH: Final = "/__local/stats"
#: PUT ``{"traffic": {...}, "mirror": {...}}`` here to change the split while serving, as ``az ml online-endpoint
#: update --traffic`` does in Azure: a field given replaces that split whole, a field left out is left as it is.
TRAFFIC_PATH: Final = "/__local/traffic"
#: A traffic update is a few hundred bytes, two objects deep: anything much bigger or deeper is refused unparsed.
ADMIN_BODY_LIMIT: Final = 64 * 1024
ADMIN_JSON_DEPTH: Final = 8
TRAFFIC_FIELDS: Final = ("traffic", "mirror")
REQUEST_ID_HEADERS: Final = ("x-request-id", "x-ms-request-id")
#: Headers the container sets that Azure passes through to the caller.
PASSTHROUGH_HEADERS: Final = (
    "content-type",
    "x-ms-run-function-failed",
    "x-ms-run-fn-exec-ms",
    "x-ms-server-version",
    "x-ms-client-request-id",
)
#: Request headers the container gets from the caller (the front sets Host, Content-Length and the request id).
FORWARDED_HEADERS: Final = ("Content-Type", "x-ms-client-request-id")
#: Picks a deployment on the way in; names the one that served on the way out (Azure's header, both directions).
DEPLOYMENT_HEADER: Final = "azureml-model-deployment"
AUTH_MODES: Final = ("key", "aml_token")
#: Azure's answer when no deployment has positive weight and no header picks one (its troubleshooting guide).
NO_ROUTE_MESSAGE: Final = (
    "No valid deployments to route to. Please check that the endpoint has at least one deployment with positive "
    "weight values or use a deployment specific header to route."
)
#: For a header naming no deployment: 404, without echoing the name or listing the endpoint's deployments.
UNKNOWN_DEPLOYMENT_MESSAGE: Final = f"The deployment named in the {DEPLOYMENT_HEADER} header was not found."


@dataclass
class FrontConfig:
    """Everything the front needs; serialised to JSON in the environment of the front process."""

    #: Deployment name -> its container's base URL, one for each of ``routing.deployments``.
    upstreams: dict[str, str]
    primary_key: str = field(repr=False)
    secondary_key: str = field(repr=False)
    host: str = "127.0.0.1"
    port: int = 0
    routing: Routing = field(default_factory=Routing)
    faults: FaultSpec = field(default_factory=FaultSpec)
    auth_mode: str = "key"
    #: The per-run token signing secret (``aml_token``), travelling with the keys in the environment.
    token_secret: str = field(default="", repr=False)
    #: The admin routes' key; empty: they refuse every caller.
    admin_key: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if self.auth_mode not in AUTH_MODES:
            raise ValueError(f"auth mode must be one of {', '.join(AUTH_MODES)}, not {self.auth_mode!r}")
        if self.auth_mode == "aml_token" and not self.token_secret:
            raise ValueError("aml_token auth needs a token signing secret")
        missing = [d.name for d in self.routing.deployments if d.name not in self.upstreams]
        if missing:
            raise ValueError(f"no container for deployment(s) {', '.join(missing)}")

    @property
    def limits(self) -> FrontLimits:
        """The endpoint-wide limits (body size, header timeout): the first deployment's."""
        return self.routing.deployments[0].limits

    def to_json(self) -> str:
        data = {k: v for k, v in self.__dict__.items() if k not in ("routing", "faults")}
        data["routing"] = self.routing.to_dict()
        data["faults"] = self.faults.to_dict()
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> FrontConfig:
        data = json.loads(text)
        data["routing"] = Routing.from_dict(data["routing"])
        data["faults"] = FaultSpec.from_dict(data.get("faults") or {})
        return cls(**data)


class DeploymentState:
    """One deployment at run time: where its container is, its limits, its slots and its own counters."""

    def __init__(self, name: str, upstream: str, limits: FrontLimits) -> None:
        self.name = name
        self.limits = limits
        url = urlsplit(upstream)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 80
        self.dispatch = asyncio.Semaphore(limits.concurrency)
        self.pending = 0
        self.stats: Counter[str] = Counter()
        self.header = {DEPLOYMENT_HEADER: name}


class UpstreamError(Exception):
    """The container dropped the connection or did not answer HTTP."""


def _ids(request_id: str) -> dict[str, str]:
    """Azure answers with the request id under both names."""
    return dict.fromkeys(REQUEST_ID_HEADERS, request_id)


def _json_response(status: int, message: str, request_id: str, **headers: str) -> web.Response:
    return web.json_response({"message": message}, status=status, headers={**_ids(request_id), **headers})


class Front:
    """The aiohttp application: one instance per front process."""

    def __init__(self, config: FrontConfig) -> None:
        self.config = config
        self._keys = tuple(k.encode() for k in (config.primary_key, config.secondary_key) if k)
        self._tokens = TokenIssuer(config.token_secret) if config.auth_mode == "aml_token" else None
        self._admin_key = config.admin_key.encode()
        self._faults = FaultInjector(config.faults)
        self.stats: Counter[str] = Counter()
        self.in_flight = 0
        self.http_log = server_logger("bankmarketing_client.local.front.http", counter=self.stats)
        routing = config.routing
        self.deployments = {
            d.name: DeploymentState(d.name, config.upstreams[d.name], d.limits) for d in routing.deployments
        }
        self._default = self.deployments[routing.deployments[0].name]
        # Seeded, so that tests can count: one stream for the live split, one for the mirror's draws.
        self._traffic_rng = random.Random(routing.seed)  # noqa: S311 - routing, not security
        self._mirror_rng = random.Random(routing.seed + 1)  # noqa: S311 - routing, not security
        self._background: set[asyncio.Task[None]] = set()
        self._apply(routing)

    def _apply(self, routing: Routing) -> None:
        """Take a (validated) traffic and mirror split; the RNG streams go on, so counts stay reproducible."""
        self.routing = routing
        live = {name: share for name, share in routing.live.items() if share > 0}
        self._live_states = [self.deployments[name] for name in live]
        self._live_cum: list[float] = []
        total = 0
        for share in live.values():
            total += share
            self._live_cum.append(total)
        mirror = next(iter(routing.mirrored.items()), None)
        self._mirror = (self.deployments[mirror[0]], mirror[1] / 100) if mirror else None

    # -- set-up ---------------------------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.config.limits.max_body_bytes + 1)
        app.router.add_post("/score", self.score)
        # Only the health check and the swagger are open, as in Azure; nothing else reaches the container.
        app.router.add_get("/", self.passthrough)
        app.router.add_get("/swagger.json", self.passthrough)
        app.router.add_get(STATS_PATH, self.stats_view)
        app.router.add_put(TRAFFIC_PATH, self.traffic_update)
        app.router.add_route("*", "/{tail:.*}", self.not_found)
        return app

    def runner(self) -> web.AppRunner:
        """The application with its connection rules: the header timeout (aiohttp's keep-alive timer, armed when a
        connection opens and after each answer) and the parse-error logger; no access log."""
        return web.AppRunner(
            self.app(),
            access_log=None,
            handle_signals=False,
            keepalive_timeout=self.config.limits.header_timeout_ms / 1000,
            logger=self.http_log,
        )

    # -- helpers --------------------------------------------------------------------------------------------------
    @staticmethod
    def _authorization(request: web.Request) -> str | None:
        """The one ``Authorization`` value; two (even equal ones) or undecodable bytes are :class:`BadRequest`."""
        values = request.headers.getall("Authorization", [])
        if len(values) > 1:
            raise BadRequest("More than one Authorization header.")
        if not values:
            return None
        value: str = values[0]
        try:  # aiohttp keeps bytes that are not UTF-8 as surrogates
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest("The Authorization header is not valid UTF-8.") from None
        return value

    def _authorized(self, header: str | None) -> bool:
        """Constant-time check of ``Bearer <key>`` against both keys (both are always compared), or in
        ``aml_token`` mode of ``Bearer <token>`` against this run's signing secret (keys are then refused, as Azure
        does).

        The scheme is case-insensitive, as HTTP says; the key is not.
        """
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        if self._tokens is not None:
            return self._tokens.check(token.strip())
        given = token.strip().encode()
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(given, key)
        return matched

    def _admin_refusal(self, request: web.Request, request_id: str) -> web.Response | None:
        """None when the request carries ``Bearer <admin key>`` (compared in constant time), else its 400 or 401.

        Scoring keys and tokens are not checked here at all: in Azure, changing routing or reading an endpoint's
        state is the management plane's job, which a scoring credential does not open.
        """
        try:
            header = self._authorization(request)
        except BadRequest as exc:
            return self._bad_request(exc, request_id)
        scheme, _, token = (header or "").partition(" ")
        given = token.strip().encode()
        if self._admin_key and scheme.lower() == "bearer" and hmac.compare_digest(given, self._admin_key):
            return None
        return _json_response(
            401,
            "Unauthorized: the /__local routes need the endpoint's admin key (Authorization: Bearer <admin key>); "
            "scoring keys and tokens do not open them.",
            request_id,
            **{"WWW-Authenticate": "Bearer"},
        )

    @staticmethod
    def _named_deployment(request: web.Request) -> str | None:
        """The ``azureml-model-deployment`` header's one value (two, or a non-printable one, are BadRequest)."""
        values = request.headers.getall(DEPLOYMENT_HEADER, [])
        if len(values) > 1:
            raise BadRequest(f"More than one {DEPLOYMENT_HEADER} header.")
        if not values:
            return None
        value: str = values[0].strip()
        if not printable_ascii(value):
            raise BadRequest(f"The {DEPLOYMENT_HEADER} header must be printable ASCII.")
        return value

    def _route(self, request: web.Request) -> DeploymentState | str:
        """The deployment that serves this request, or the 404 message: the header wins, else the weighted draw."""
        name = self._named_deployment(request)
        if name is not None:
            picked = self.deployments.get(name)
            if picked is None:
                return UNKNOWN_DEPLOYMENT_MESSAGE
            picked.stats["by_header"] += 1  # the rest of its "requests" were drawn by weight
            return picked
        if not self._live_cum:
            return NO_ROUTE_MESSAGE
        if len(self._live_states) == 1:
            return self._live_states[0]
        point = self._traffic_rng.random() * self._live_cum[-1]
        for state, bound in zip(self._live_states, self._live_cum, strict=True):
            if point < bound:
                return state
        return self._live_states[-1]

    @staticmethod
    def _outbound(request: web.Request) -> tuple[str, dict[str, str]]:
        """The request target and the caller's headers that the container gets, validated and re-encoded.

        The path is the matched route's own (``/``, ``/score``, ``/swagger.json``), the query is rebuilt from its
        decoded parameters: no byte of the caller's request line reaches the container. Raises :class:`BadRequest`.
        """
        resource = request.match_info.route.resource
        assert resource is not None  # every route of app() has one
        target = quote(resource.canonical)
        query = forwardable_query(request.rel_url.raw_query_string)
        if query:
            target = f"{target}?{query}"
        headers = {
            name: value
            for name in FORWARDED_HEADERS
            if (value := forwardable_header(request.headers, name)) is not None
        }
        for name in REQUEST_ID_HEADERS:  # echoed in the answer and forwarded: the same rules
            forwardable_header(request.headers, name)
        return target, headers

    async def _forward(
        self,
        deployment: DeploymentState,
        method: str,
        target: str,
        caller_headers: dict[str, str],
        body: bytes,
        request_id: str,
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP/1.1 exchange with the container over a fresh connection (it closes every connection anyway).

        A plain stream exchange instead of an HTTP client library: it is the hop the front adds to every request,
        so it is kept as short as possible. ``target`` and ``caller_headers`` come from :meth:`_outbound` (ASCII,
        no control characters). Raises ``ConnectionRefusedError`` when the container is down and
        :class:`UpstreamError` when it drops the connection or answers something that is not HTTP.
        """
        lines = [
            f"{method} {target} HTTP/1.1",
            f"Host: {deployment.host}:{deployment.port}",
            "Connection: close",
            f"Content-Length: {len(body)}",
            f"x-request-id: {request_id}",
        ]
        lines.extend(f"{name}: {value}" for name, value in caller_headers.items())
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
        reader, writer = await asyncio.open_connection(deployment.host, deployment.port)
        try:
            writer.write(head + body)
            status_line = await reader.readline()
            parts = status_line.split(b" ", 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
                raise UpstreamError(f"unexpected status line {status_line[:80]!r}")
            headers: dict[str, str] = {}
            length: int | None = None
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                key = name.strip().lower()
                if key == "content-length":
                    length = int(value.strip())
                elif key in PASSTHROUGH_HEADERS:
                    headers[name.strip()] = value.strip()
            if method == "HEAD":
                length = 0  # the answer to HEAD announces a length but carries no body
            payload = await (reader.readexactly(length) if length is not None else reader.read())
            return int(parts[1]), headers, payload
        except (ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
            raise UpstreamError(str(exc)) from exc
        finally:
            writer.close()

    @staticmethod
    def _request_id(request: web.Request) -> str:
        """The caller's id when it can be echoed (printable ASCII, at most 100 characters), else a new one."""
        given = request.headers.get("x-request-id") or request.headers.get("x-ms-request-id")
        if given and len(given) <= 100 and printable_ascii(given):
            return given
        return str(uuid.uuid4())

    async def _read_body(
        self, request: web.Request, request_id: str, deadline: float, deployment: DeploymentState
    ) -> bytes | web.Response:
        """The whole body by ``deadline`` (408), within the size limit (413), or the answer that refuses it."""
        try:
            async with asyncio.timeout_at(deadline):
                return await request.read()
        except TimeoutError:
            return self._timed_out(request_id, deployment)
        except web.HTTPRequestEntityTooLarge:  # a chunked body, past the limit while being read
            return self._too_large(request_id)
        except (ConnectionError, HttpProcessingError):  # the caller went away, or sent a malformed chunk
            return self._bad_request(BadRequest("The request body could not be read."), request_id)

    # -- handlers -------------------------------------------------------------------------------------------------
    async def traffic_update(self, request: web.Request) -> web.Response:
        """A new traffic and/or mirror split for the same deployments, as Azure's endpoint update: a field given
        replaces that split whole (deployments it leaves out get 0), a field left out stays as it is. 200 with the
        split in force; 400 with the one-line reason (Azure's rules, a malformed or empty update) and nothing
        changed; 401 without the admin key; 413 past :data:`ADMIN_BODY_LIMIT`."""
        request_id = self._request_id(request)
        refusal = self._admin_refusal(request, request_id)
        if refusal is not None:
            return refusal
        if request.content_length is not None and request.content_length > ADMIN_BODY_LIMIT:
            return _json_response(413, f"A traffic update is at most {ADMIN_BODY_LIMIT} bytes.", request_id)
        # The body arrives within the first deployment's request timeout, as a scoring body must: a caller
        # trickling it would otherwise hold this handler for ever. Its 408 is the front's, not a deployment's.
        seconds = self._default.limits.request_timeout_ms / 1000
        try:
            async with asyncio.timeout(seconds):
                raw = await _read_at_most(request, ADMIN_BODY_LIMIT)
        except TimeoutError:
            self.stats["408"] += 1
            return _json_response(408, f"Request timed out after {seconds * 1000:g} ms.", request_id)
        except (ConnectionError, HttpProcessingError):
            return self._bad_request(BadRequest("The request body could not be read."), request_id)
        if raw is None:
            return _json_response(413, f"A traffic update is at most {ADMIN_BODY_LIMIT} bytes.", request_id)
        try:
            routing = self._updated_routing(raw)
        except (ValueError, TypeError) as exc:
            return _json_response(400, str(exc), request_id)
        self._apply(routing)
        log.info("traffic now %s, mirror %s", routing.live, routing.mirrored)
        return web.json_response({"traffic": routing.live, "mirror": routing.mirrored}, headers=_ids(request_id))

    def _updated_routing(self, raw: bytes) -> Routing:
        """The routing a traffic update asks for, checked by Azure's rules; ValueError with the reason if wrong.

        An update naming neither field is refused rather than taken as "no change": the only way to send one is a
        mistake (a misspelt field, the wrong file), which a silent 200 would hide.
        """
        if _nesting_exceeds(raw, ADMIN_JSON_DEPTH):
            raise ValueError(f"a traffic update is JSON at most {ADMIN_JSON_DEPTH} levels deep")
        update = json.loads(raw, object_pairs_hook=_no_duplicate_keys)
        if not isinstance(update, dict):
            raise ValueError('a traffic update is a JSON object: {"traffic": {...}, "mirror": {...}}')
        unknown = [name for name in update if name not in TRAFFIC_FIELDS]
        if unknown:
            raise ValueError(f"a traffic update takes traffic and mirror only, not {', '.join(map(repr, unknown))}")
        if not update:
            raise ValueError("an empty traffic update changes nothing: give traffic, mirror or both")
        for name, value in update.items():
            if not isinstance(value, dict):
                raise ValueError(f"{name} must be a JSON object of deployment name to percent, not {value!r:.40}")
        return Routing(
            deployments=self.routing.deployments,
            traffic=update.get("traffic", self.routing.live),
            mirror=update.get("mirror", self.routing.mirror),
            seed=self.routing.seed,
        )

    async def stats_view(self, request: web.Request) -> web.Response:
        """Counters for tests and benchmarks (not part of Azure's surface): what reached the front. Admin only."""
        refusal = self._admin_refusal(request, self._request_id(request))
        if refusal is not None:
            return refusal
        deployments = {name: {**d.stats, "pending": d.pending} for name, d in self.deployments.items()}
        pending = sum(d.pending for d in self.deployments.values())
        return web.json_response({**self.stats, "pending": pending, "deployments": deployments})

    async def not_found(self, request: web.Request) -> web.StreamResponse:
        """Any other path or method (``//score``, ``GET /score``, ...): 404, never forwarded."""
        return _json_response(404, f"No route for {request.method} {request.path}.", self._request_id(request))

    async def passthrough(self, request: web.Request) -> web.StreamResponse:
        """The health check and the swagger: open, as Azure leaves them."""
        request_id = self._request_id(request)
        try:
            target, caller_headers = self._outbound(request)
            named = self._named_deployment(request)
        except BadRequest as exc:
            return self._bad_request(exc, request_id)
        # The header picks the deployment whose swagger (or health) is wanted; else the first one answers. A name
        # the endpoint does not hold gets scoring's 404: answering from another deployment would tell a caller
        # with a misspelt name that all is well.
        deployment = self.deployments.get(named) if named else self._default
        if deployment is None:
            return _json_response(404, UNKNOWN_DEPLOYMENT_MESSAGE, request_id)
        deadline = asyncio.get_running_loop().time() + deployment.limits.request_timeout_ms / 1000
        body = await self._read_body(request, request_id, deadline, deployment)
        if isinstance(body, web.Response):
            return body
        try:
            status, headers, payload = await self._forward(
                deployment, request.method, target, caller_headers, body, request_id
            )
        except (ConnectionRefusedError, UpstreamError) as exc:
            return self._unreachable(exc, request_id, deployment)
        return web.Response(status=status, body=payload, headers={**headers, **_ids(request_id), **deployment.header})

    def _count(self, status: str, deployment: DeploymentState | None = None) -> None:
        """One answer in the endpoint's totals and, when a deployment gave it, in that deployment's counters."""
        self.stats[status] += 1
        if deployment is not None:
            deployment.stats[status] += 1

    def _unreachable(self, exc: Exception, request_id: str, deployment: DeploymentState) -> web.Response:
        """503 at once when the container refuses connections (it is down), 502 when it dropped one."""
        if isinstance(exc, ConnectionRefusedError):
            self._count("503", deployment)
            return _json_response(503, "The scoring container is not available.", request_id, **deployment.header)
        self._count("502", deployment)
        return _json_response(502, "The scoring container dropped the connection.", request_id, **deployment.header)

    def _bad_request(self, exc: BadRequest, request_id: str) -> web.Response:
        self.stats["400"] += 1
        return _json_response(400, str(exc), request_id)

    def _too_large(self, request_id: str) -> web.Response:
        self.stats["413"] += 1
        return _json_response(
            413, f"Request body is larger than {self.config.limits.max_body_bytes} bytes.", request_id
        )

    def _timed_out(self, request_id: str, deployment: DeploymentState) -> web.Response:
        self._count("408", deployment)
        return _json_response(
            408,
            f"Request timed out after {deployment.limits.request_timeout_ms} ms.",
            request_id,
            **deployment.header,
        )

    async def score(self, request: web.Request) -> web.StreamResponse:
        """``/score``, counted in flight from arrival to answer: ``in_flight_peak`` is the most at once, over every
        deployment and whatever the answer (a client's concurrency budget is checked against it)."""
        self.in_flight += 1
        self.stats["in_flight_peak"] = max(self.stats["in_flight_peak"], self.in_flight)
        try:
            return await self._score(request)
        finally:
            self.in_flight -= 1

    async def _score(self, request: web.Request) -> web.StreamResponse:
        config = self.config
        request_id = self._request_id(request)
        self.stats["requests"] += 1
        try:
            authorization = self._authorization(request)
        except BadRequest as exc:
            return self._bad_request(exc, request_id)
        if not self._authorized(authorization):
            self.stats["401"] += 1
            what = "token" if self._tokens is not None else "key"
            return _json_response(
                401,
                f"Unauthorized: a valid {what} is required (Authorization: Bearer <{what}>).",
                request_id,
                **{"WWW-Authenticate": "Bearer"},
            )
        try:
            target, caller_headers = self._outbound(request)
            deployment = self._route(request)
        except BadRequest as exc:
            return self._bad_request(exc, request_id)
        if isinstance(deployment, str):
            self.stats["404"] += 1
            return _json_response(404, deployment, request_id)
        deployment.stats["requests"] += 1
        fault = self._faults.draw()
        if config.faults.latency_ms:
            await asyncio.sleep(config.faults.latency_ms / 1000)
        if deployment.limits.added_latency_ms:
            await asyncio.sleep(deployment.limits.added_latency_ms / 1000)
        if fault is Fault.UNAVAILABLE:
            self.stats["fault_503"] += 1
            return _json_response(503, "Service unavailable (injected fault).", request_id)
        if fault is Fault.THROTTLED:
            self.stats["fault_429"] += 1
            return _json_response(
                429,
                "Too many requests (injected fault).",
                request_id,
                **{"Retry-After": f"{config.faults.retry_after_seconds:g}"},
            )
        if fault is Fault.RESET:
            self.stats["fault_reset"] += 1
            self._reset(request)
            raise asyncio.CancelledError  # nothing more is written on an aborted connection
        if request.content_length is not None and request.content_length > config.limits.max_body_bytes:
            return self._too_large(request_id)
        # The request timeout covers the upload and the answer. The body is read (bounded in size and time) before
        # the request counts as pending: a slow upload holds its own connection, never a slot others need.
        deadline = asyncio.get_running_loop().time() + deployment.limits.request_timeout_ms / 1000
        body = await self._read_body(request, request_id, deadline, deployment)
        if isinstance(body, web.Response):
            return body
        if deployment.pending >= deployment.limits.pending_limit:
            self._count("429", deployment)
            return _json_response(
                429, "Too many pending requests for this deployment.", request_id, **deployment.header
            )
        if self._mirror is not None and self._mirror_rng.random() < self._mirror[1]:
            self._mirror_copy(self._mirror[0], request.method, target, caller_headers, body)
        deployment.pending += 1
        try:
            return await self._score_upstream(
                deployment, request.method, target, caller_headers, body, request_id, deadline
            )
        finally:
            deployment.pending -= 1

    def _mirror_copy(
        self, mirror: DeploymentState, method: str, target: str, caller_headers: dict[str, str], body: bytes
    ) -> None:
        """Send a copy to the mirror deployment in the background: its answer is counted and discarded, and the
        caller's request never waits for it. A mirror with no free pending slot drops the copy (Azure's mirror
        never throttles live traffic)."""
        if mirror.pending >= mirror.limits.pending_limit:
            mirror.stats["mirror_dropped"] += 1
            return
        mirror.stats["mirror_requests"] += 1
        mirror.pending += 1
        task = asyncio.create_task(self._mirror_exchange(mirror, method, target, caller_headers, body))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _mirror_exchange(
        self, mirror: DeploymentState, method: str, target: str, caller_headers: dict[str, str], body: bytes
    ) -> None:
        try:
            async with asyncio.timeout(mirror.limits.request_timeout_ms / 1000), mirror.dispatch:
                status, _, _ = await self._forward(mirror, method, target, caller_headers, body, str(uuid.uuid4()))
            mirror.stats[f"mirror_{status}"] += 1
        except TimeoutError:
            mirror.stats["mirror_408"] += 1
        except (ConnectionRefusedError, UpstreamError):
            mirror.stats["mirror_failed"] += 1
        finally:
            mirror.pending -= 1

    async def _score_upstream(
        self,
        deployment: DeploymentState,
        method: str,
        target: str,
        caller_headers: dict[str, str],
        body: bytes,
        request_id: str,
        deadline: float,
    ) -> web.StreamResponse:
        try:
            async with asyncio.timeout_at(deadline), deployment.dispatch:
                status, headers, payload = await self._forward(
                    deployment, method, target, caller_headers, body, request_id
                )
        except TimeoutError:
            return self._timed_out(request_id, deployment)
        except (ConnectionRefusedError, UpstreamError) as exc:
            return self._unreachable(exc, request_id, deployment)
        ids = _ids(request_id)
        if status == 200:
            self._count("200", deployment)
            return web.Response(status=200, body=payload, headers={**headers, **ids, **deployment.header})
        self._count("424", deployment)
        reason = _error_reason(payload)
        return web.Response(
            status=424,
            body=payload,
            headers={
                **headers,
                **ids,
                **deployment.header,
                "ms-azureml-model-error-statuscode": str(status),
                "ms-azureml-model-error-reason": reason,
            },
        )

    @staticmethod
    def _reset(request: web.Request) -> None:
        """Abort the connection with a TCP RST, as a crashed proxy or a network fault would."""
        transport = request.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        transport.abort()


async def _read_at_most(request: web.Request, limit: int) -> bytes | None:
    """The body, or None once it passes ``limit`` bytes (a chunked body announces no length)."""
    body = bytearray()
    while chunk := await request.content.read(limit + 1 - len(body)):
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _nesting_exceeds(raw: bytes, limit: int) -> bool:
    """Whether JSON text nests arrays and objects deeper than ``limit``, found without parsing it (a parser recurses
    once per level: 100,000 levels end in a RecursionError). Brackets inside strings do not count."""
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in b"[{":
            depth += 1
            if depth > limit:
                return True
        elif byte in b"]}":
            depth -= 1
    return False


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A JSON object whose keys appear once: ``{"traffic": A, "traffic": B}`` is refused, not read as B."""
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"a traffic update names {key!r} twice")
        result[key] = value
    return result


def _error_reason(payload: bytes) -> str:
    """A one-line, header-safe reason from the container's error body."""
    try:
        message = json.loads(payload).get("message", "")
    except (ValueError, AttributeError):
        message = payload[:200].decode("utf-8", "replace")
    text = " ".join(str(message).split())[:200]
    return text.encode("ascii", "replace").decode("ascii") or "model error"


async def serve(config: FrontConfig) -> None:
    """Run until SIGINT/SIGTERM; print the bound port on stdout once listening."""
    front = Front(config)
    runner = front.runner()
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        print(f"FRONT ERROR cannot listen on {config.host}:{config.port}: {exc.strerror}", flush=True)
        await runner.cleanup()
        raise SystemExit(3) from None
    sockets = getattr(site._server, "sockets", None) or []
    port = sockets[0].getsockname()[1] if sockets else config.port
    print(f"{READY_PREFIX}{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    text = os.environ.pop(CONFIG_ENV, None)
    if not text:
        print(f"{CONFIG_ENV} is not set", file=sys.stderr)
        raise SystemExit(2)
    logging.basicConfig(level=logging.WARNING)
    config = FrontConfig.from_json(text)
    try:  # uvloop's event loop makes the extra hop cheaper; the front works without it
        import uvloop
    except ImportError:
        asyncio.run(serve(config))
    else:
        uvloop.run(serve(config))


if __name__ == "__main__":
    main()
