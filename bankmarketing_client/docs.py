"""Swagger UI for an endpoint, on loopback, without Docker and without a separate CORS server.

The original project ran Swagger UI in Docker and a small CORS file server beside it, and "Try it out" still
needed the key typed into the page. Here one local aiohttp server does it all, on one origin:

* ``/docs/``: Swagger UI's static files from the ``swagger-ui-bundle`` package, with our own index page;
* ``/swagger.json``: the endpoint's swagger, fetched server-side and rewritten so that its operations point
  at this server (Swagger 2.0: no ``host``/``schemes``, ``basePath: /api``; OpenAPI 3: ``servers: [/api]``);
* ``/api/<path>``: a proxy to the endpoint (``/api/score`` -> ``<scoring URI>``). Because the page and the API
  share an origin, the browser needs no CORS at all. The path and query are decoded, checked and re-encoded
  (no ``..`` segment, encoded slash or control character; UTF-8), and forwarded headers must be printable ASCII
  and appear once, by the rules the local front applies too (:mod:`bankmarketing_client.forwarding`): else 400.
  So a request can neither leave the endpoint's base path with the key nor smuggle bytes into the upstream
  request.

The key decision: the key (or an Azure AD token provider) stays in this server's memory and is added to
proxied requests that carry no ``Authorization`` header of their own. It is never written into the page, the
swagger, a URL or a log line. Since any local process could then borrow the key through the proxy, the proxy
only listens on 127.0.0.1, refuses requests whose ``Host`` is not this server (DNS rebinding) and refuses
cross-site browser requests (an ``Origin`` other than its own, or ``Sec-Fetch-Site: cross-site``), so a web
page open in the same browser cannot use it either.

aiohttp is imported lazily (``docs`` extra), so importing this module costs nothing.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from bankmarketing_client.auth import TokenAuth, TokenProvider, check_credential_url
from bankmarketing_client.errors import ConfigurationError, excerpt
from bankmarketing_client.urls import endpoint_urls

if TYPE_CHECKING:
    from aiohttp import ClientSession, web
    from yarl import URL

API_PREFIX = "/api"
DOCS_PREFIX = "/docs/"
#: Largest request body the proxy accepts (Azure's own limit is far lower for this model).
MAX_BODY_BYTES = 8 * 1024 * 1024
#: Response headers that describe one hop of the connection, not the answer.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "content-encoding",
        "proxy-authenticate",
        "trailer",
        "upgrade",
        "server",
        "date",
    }
)
#: Request headers passed from the browser to the endpoint.
FORWARDED_REQUEST_HEADERS = ("content-type", "accept", "authorization", "x-request-id", "x-ms-client-request-id")

INDEX_HTML = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>{title}</title>
    <link rel="stylesheet" type="text/css" href="swagger-ui.css">
    <link rel="icon" type="image/png" href="favicon-32x32.png" sizes="32x32">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="initializer.js" charset="UTF-8"></script>
  </body>
</html>
"""

# No key here: requests go to /api on this origin and the server adds the credential.
INITIALIZER_JS = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/swagger.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    displayRequestDuration: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
};
"""

PROXY_NOTE = (
    "\n\nServed by `bankmarketing-client docs`: requests go through this local server, which forwards them to "
    "the endpoint and adds its key when you have not authorized in this page."
)


def swagger_ui_dir() -> Path:
    """The folder of Swagger UI's static files shipped by the ``swagger-ui-bundle`` package."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        raise ConfigurationError("Swagger UI needs the docs extra: pip install 'bankmarketing-client[docs]'") from None
    return Path(str(swagger_ui_path))


def rewrite_swagger(spec: dict[str, Any], *, api_prefix: str = API_PREFIX) -> dict[str, Any]:
    """A copy of ``spec`` whose operations resolve to ``api_prefix`` on the page's own origin."""
    spec = copy.deepcopy(spec)
    if str(spec.get("swagger", "")).startswith("2"):
        spec.pop("host", None)
        spec.pop("schemes", None)
        spec["basePath"] = api_prefix
    elif str(spec.get("openapi", "")).startswith("3"):
        spec["servers"] = [{"url": api_prefix}]
    else:
        raise ConfigurationError("the document is neither Swagger 2.0 nor OpenAPI 3")
    info = spec.setdefault("info", {})
    if isinstance(info, dict):
        info["description"] = str(info.get("description") or "") + PROXY_NOTE
    return spec


def upstream_base(scoring_uri: str | None, swagger_uri: str | None) -> str:
    """The endpoint's base URL (ending in ``/``): the folder of the scoring URI, else of the swagger URI."""
    # The swagger URI is checked even when unused for the base, so a bad one is refused here, not at the first fetch.
    swagger_base = endpoint_urls(swagger_uri, what="the swagger URI").base_url if swagger_uri else None
    if scoring_uri:
        return endpoint_urls(scoring_uri, what="the scoring URI").base_url
    if swagger_base is None:
        raise ConfigurationError("give a scoring URI or a swagger URI")
    return swagger_base


@dataclass
class DocsServer:
    """Swagger UI plus a same-origin proxy for one endpoint. ``start()``/``stop()`` inside an event loop,
    or :meth:`running` for a server on a background thread."""

    swagger_uri: str | None = None
    scoring_uri: str | None = None
    api_key: str | None = field(default=None, repr=False)
    token_provider: TokenProvider | None = field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = 0
    request_timeout: float = 60.0
    #: Let the key or token travel to an ``http://`` endpoint that is not loopback (the client's rule and opt-out).
    allow_insecure_http: bool = False
    _runner: web.AppRunner | None = field(default=None, init=False, repr=False)
    _session: ClientSession | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.base = upstream_base(self.scoring_uri, self.swagger_uri)
        if self.swagger_uri is None:
            self.swagger_uri = self.base + "swagger.json"
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigurationError("the docs server holds a key: it only listens on loopback")
        if self.api_key is not None and self.token_provider is not None:
            raise ConfigurationError("give an API key or a token provider, not both")
        if self.api_key is not None or self.token_provider is not None:
            for upstream in (self.base, self.swagger_uri):  # both get the credential
                check_credential_url(upstream, allow_insecure_http=self.allow_insecure_http)
        # The client's token cache (renewal before expiry, a forced fetch after a 401), not a second one here.
        self._tokens = TokenAuth(self.token_provider) if self.token_provider is not None else None

    @property
    def url(self) -> str:
        """The Swagger UI page."""
        return f"http://{self.host}:{self.port}{DOCS_PREFIX}"

    # --- lifecycle -------------------------------------------------------------------------------------

    async def start(self) -> None:
        from aiohttp import ClientSession, ClientTimeout, web

        from bankmarketing_client.forwarding import server_logger

        app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[self._guard])
        app.router.add_get("/", self._root)
        app.router.add_get(DOCS_PREFIX, self._index)
        app.router.add_get(DOCS_PREFIX + "initializer.js", self._initializer)
        app.router.add_static(DOCS_PREFIX, swagger_ui_dir(), follow_symlinks=False)
        app.router.add_get("/swagger.json", self._swagger)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._proxy)
        self._session = ClientSession(timeout=ClientTimeout(total=self.request_timeout), auto_decompress=True)
        # aiohttp would log a malformed request's offending line (an Authorization header among them) in full.
        self._runner = web.AppRunner(app, access_log=None, logger=server_logger("bankmarketing_client.docs.http"))
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    @contextmanager
    def running(self) -> Iterator[DocsServer]:
        """Run the server on its own event loop in a daemon thread for the ``with`` block."""
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # reported to the caller below
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()

        thread = threading.Thread(target=run, name="docs-server", daemon=True)
        thread.start()
        started.wait()
        if failure:
            loop.close()
            raise failure[0]
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()

    # --- guard and pages ---------------------------------------------------------------------------------

    def _allowed_hosts(self) -> set[str]:
        return {f"{name}:{self.port}" for name in ("127.0.0.1", "localhost", "[::1]")}

    def _refusal(self, request: web.Request) -> str | None:
        if request.host not in self._allowed_hosts():
            return "unexpected Host header"
        origin = request.headers.get("Origin")
        if origin is not None and origin not in {f"http://{h}" for h in self._allowed_hosts()}:
            return "cross-origin request"
        if request.headers.get("Sec-Fetch-Site") == "cross-site":
            return "cross-site request"
        return None

    @property
    def _guard(self) -> Any:
        from aiohttp import web

        @web.middleware
        async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
            reason = self._refusal(request)
            if reason is not None:
                return web.json_response({"message": f"refused by the docs server: {reason}"}, status=403)
            response: web.StreamResponse = await handler(request)
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Referrer-Policy", "no-referrer")
            return response

        return guard

    async def _root(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        raise web.HTTPFound(DOCS_PREFIX)

    async def _index(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        return web.Response(text=INDEX_HTML.format(title="bank-marketing endpoint"), content_type="text/html")

    async def _initializer(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        return web.Response(text=INITIALIZER_JS, content_type="application/javascript")

    # --- upstream ----------------------------------------------------------------------------------------

    async def _credential_header(self) -> dict[str, str]:
        if self.api_key:
            return {"Authorization": f"Bearer {self.api_key}"}
        if self._tokens is not None:
            # A renewal may make a (blocking) management call; keep it off the event loop.
            token = await asyncio.get_running_loop().run_in_executor(None, self._tokens.current)
            return {"Authorization": f"Bearer {token.reveal()}"}
        return {}

    async def _swagger(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import ClientError, web

        from bankmarketing_client.forwarding import BadRequest, forwardable_params

        assert self._session is not None
        assert self.swagger_uri is not None
        try:
            params = forwardable_params(request.rel_url.raw_query_string)  # decoded and checked; aiohttp re-encodes
        except BadRequest as exc:
            return web.json_response({"message": str(exc)}, status=400)
        try:
            async with self._session.get(
                self.swagger_uri, params=params, headers=await self._credential_header()
            ) as upstream:
                body = await upstream.read()
                if upstream.status != 200:
                    message = f"the endpoint answered HTTP {upstream.status} for its swagger: {excerpt(body)}"
                    return web.json_response({"message": message}, status=502)
        except (ClientError, TimeoutError) as exc:
            return web.json_response({"message": f"cannot fetch the swagger: {type(exc).__name__}"}, status=502)
        try:
            spec = rewrite_swagger(json.loads(body))
        except (ValueError, ConfigurationError) as exc:
            return web.json_response({"message": f"the endpoint's swagger is unusable: {exc}"}, status=502)
        return web.json_response(spec, headers={"Cache-Control": "no-store"})

    def _target(self, request: web.Request) -> URL:
        """The upstream URL for ``/api/<path>?<query>``: the endpoint's base, then the path and the query rebuilt
        from their decoded, checked parts (:class:`~bankmarketing_client.forwarding.BadRequest` otherwise).

        Built from the raw path, segment by segment: a decoded path would let ``..%2F`` climb out of the
        endpoint's base path (to another service on the same host, with the key).
        """
        from yarl import URL

        from bankmarketing_client.forwarding import BadRequest, forwardable_query, has_control_characters

        raw_segments = request.rel_url.raw_path.split("/")[2:]  # after "" and "api"
        segments: list[str] = []
        for index, raw in enumerate(raw_segments):
            try:
                segment = unquote(raw, errors="strict")
            except UnicodeDecodeError:
                raise BadRequest("The path is not valid UTF-8 once percent-decoded.") from None
            last = index == len(raw_segments) - 1
            if segment in (".", "..") or (not segment and not last) or "/" in segment or "\\" in segment:
                raise BadRequest("The path may not hold '.', '..' or empty segments, or encoded slashes.")
            if has_control_characters(segment):
                raise BadRequest("The path holds control characters (such as CR or LF).")
            segments.append(quote(segment, safe=""))
        query = forwardable_query(request.rel_url.raw_query_string)
        path_qs = "/".join(segments) + (f"?{query}" if query else "")
        return URL(str(URL(self.base)) + path_qs, encoded=True)

    async def _proxy(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import ClientError, web

        from bankmarketing_client.forwarding import BadRequest, forwardable_header

        assert self._session is not None
        try:
            target = self._target(request)
            headers = {
                name: value
                for name in FORWARDED_REQUEST_HEADERS
                if (value := forwardable_header(request.headers, name)) is not None
            }
        except BadRequest as exc:
            return web.json_response({"message": str(exc)}, status=400)
        if "authorization" not in {k.lower() for k in headers}:
            headers.update(await self._credential_header())
        try:  # a browser sends its body at once; a trickle holds no more than the request timeout
            async with asyncio.timeout(self.request_timeout):
                body = await request.read()
        except TimeoutError:
            return web.json_response(
                {"message": f"the request body did not arrive within {self.request_timeout:g} s"}, status=408
            )
        try:
            async with self._session.request(
                request.method,
                target,
                data=body or None,
                headers=headers,
                allow_redirects=False,
            ) as upstream:
                payload = await upstream.read()
                passed = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
                return web.Response(status=upstream.status, body=payload, headers=passed)
        except TimeoutError:
            return web.json_response(
                {"message": f"the endpoint did not answer within {self.request_timeout:g} s"}, status=504
            )
        except ClientError as exc:
            return web.json_response({"message": f"cannot reach the endpoint: {type(exc).__name__}"}, status=502)
