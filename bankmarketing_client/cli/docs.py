"""``docs``: Swagger UI for an endpoint on 127.0.0.1, without Docker (replaces the original's Docker
Swagger UI and its separate CORS server).

The endpoint is one of: ``--scoring-uri``/``--swagger-uri`` (default ``$BANKMARKETING_SCORING_URI``), a
workspace service (``--service`` with the workspace options of ``discover``), or ``--local`` (a local endpoint
started for the session). The key comes from ``--key-file`` or ``$BANKMARKETING_API_KEY`` and stays in the
server: "Try it out" requests go through its same-origin proxy, which adds it (see ``bankmarketing_client.docs``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from bankmarketing_client.cli.keys import read_key_file
from bankmarketing_client.contracts import served_locally
from bankmarketing_client.errors import ConfigurationError
from bankmarketing_client.urls import redact_url

if TYPE_CHECKING:
    from bankmarketing_client.docs import DocsServer


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from bankmarketing_client.cli.azure import add_workspace_options

    docs = subparsers.add_parser("docs", help="serve Swagger UI for an endpoint on 127.0.0.1 (Try it out works)")
    source = docs.add_argument_group("endpoint")
    source.add_argument("--scoring-uri", help="the endpoint's scoring URI (default: $BANKMARKETING_SCORING_URI)")
    source.add_argument("--swagger-uri", help="the endpoint's swagger.json (default: beside the scoring URI)")
    source.add_argument(
        "--key-file", type=Path, help="file holding the key (default: $BANKMARKETING_API_KEY); never from argv"
    )
    source.add_argument("--no-key", action="store_true", help="send no key, even if $BANKMARKETING_API_KEY is set")
    source.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="add the key or token to requests for an http:// endpoint that is not loopback (refused otherwise: "
        "anyone on the path could read it); only for a private network you trust",
    )
    source.add_argument("--service", help="a service in an Azure ML workspace (see the workspace options)")
    source.add_argument("--local", action="store_true", help="start a local endpoint and document it")
    source.add_argument("--contract", choices=served_locally(), default="inputs", help="contract for --local")
    docs.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    add_workspace_options(docs)
    docs.set_defaults(handler=run_docs)


def _read_key(args: argparse.Namespace) -> str | None:
    if args.no_key:
        return None
    if args.key_file is not None:
        return read_key_file(args.key_file)
    return os.environ.get("BANKMARKETING_API_KEY", "").strip() or None


@contextlib.contextmanager
def docs_server_for(args: argparse.Namespace) -> Iterator[DocsServer]:
    """The (not yet started) docs server the arguments describe; starts a local endpoint for ``--local``."""
    from bankmarketing_client.docs import DocsServer

    if not 0 <= args.port <= 65535:
        raise ConfigurationError("--port must be between 0 and 65535")
    chosen = [bool(args.local), bool(args.service), bool(args.scoring_uri or args.swagger_uri)]
    if sum(chosen) > 1:
        raise ConfigurationError("give one of --local, --service or --scoring-uri/--swagger-uri")
    if (args.local or args.service) and (args.key_file is not None or args.no_key):
        # Those endpoints bring their own credential; ignoring the option would send a key after --no-key.
        raise ConfigurationError(
            "--key-file and --no-key go with --scoring-uri/--swagger-uri, not --local or --service"
        )
    if args.local:
        from bankmarketing_client.local.endpoint import LocalEndpoint

        with LocalEndpoint(contract=args.contract) as endpoint:
            yield DocsServer(scoring_uri=endpoint.scoring_uri, api_key=endpoint.primary_key, port=args.port)
        return
    if args.service:
        from bankmarketing_client.azureml.discovery import discover_service
        from bankmarketing_client.cli.azure import open_workspace_from_args

        workspace = open_workspace_from_args(args)
        found = discover_service(workspace, args.service, timeout=args.management_timeout)
        yield DocsServer(
            scoring_uri=found.scoring_uri,
            swagger_uri=found.swagger_uri,
            api_key=found.primary_key,
            token_provider=found.token_provider,
            port=args.port,
            allow_insecure_http=args.allow_insecure_http,
        )
        return
    scoring_uri = args.scoring_uri or (None if args.swagger_uri else os.environ.get("BANKMARKETING_SCORING_URI"))
    if not scoring_uri and not args.swagger_uri:
        raise ConfigurationError(
            "no endpoint: give --scoring-uri or --swagger-uri (or set $BANKMARKETING_SCORING_URI), --service or --local"
        )
    yield DocsServer(
        scoring_uri=scoring_uri,
        swagger_uri=args.swagger_uri,
        api_key=_read_key(args),
        port=args.port,
        allow_insecure_http=args.allow_insecure_http,
    )


def run_docs(args: argparse.Namespace, *, stop: threading.Event | None = None) -> int:
    """Serve until Ctrl-C (or until ``stop`` is set, for embedding)."""
    with docs_server_for(args) as server, server.running():
        credential = "key added server-side" if server.api_key else "token added server-side"
        if not server.api_key and server.token_provider is None:
            credential = "no key"
        print(f"Swagger UI for {redact_url(server.base)}: {server.url}  ({credential}; Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            (stop or threading.Event()).wait()
    return 0
