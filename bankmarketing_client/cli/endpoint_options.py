"""The options every command that talks to an endpoint shares: where it is, the key or token, its contract and
the deployment to ask for.

Not a command module: it registers nothing. Keys come from the environment or ``--key-file``, never argv. A key
file holding a JSON object is an ``aml_token`` answer (``local serve --token-file`` writes and renews one); it is
read again at each refresh, so a long run follows the renewals. A key or token goes to an ``https://`` URI, or to
``http://`` on loopback; ``--allow-insecure-http`` is the opt-out for a private network (the client's
``allow_insecure_http``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bankmarketing_client.cli.keys import read_key_file

if TYPE_CHECKING:
    from bankmarketing_client.auth import TokenProvider


def contract_choices() -> tuple[str, ...]:
    """``auto`` and every family of the contract registry (asked when a parser is built, so none is missed)."""
    from bankmarketing_client.contracts import names

    return ("auto", *names())


def add_endpoint_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scoring-uri", help="the endpoint's scoring URI (default: $BANKMARKETING_SCORING_URI)")
    parser.add_argument(
        "--key-file",
        type=Path,
        help="file holding the key, or an aml_token answer as JSON (local serve --token-file) "
        "(default: $BANKMARKETING_API_KEY); keys are never taken from the command line",
    )
    parser.add_argument(
        "--contract",
        choices=contract_choices(),
        default="auto",
        help="the request contract (default: read it from the endpoint's swagger)",
    )
    parser.add_argument(
        "--deployment",
        metavar="NAME",
        help="send every request to this deployment (azureml-model-deployment header), whatever the traffic "
        "split (default: $BANKMARKETING_DEPLOYMENT, else the split decides)",
    )
    parser.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="send the key or token to an http:// URI that is not loopback (refused otherwise: anyone on the path "
        "could read it); only for a private network you trust",
    )


@dataclass(frozen=True)
class EndpointOptions:
    """Which endpoint the options name, with which key (or token provider), contract and deployment; ``None``
    fields fall back to the environment in the client."""

    scoring_uri: str | None
    api_key: str | None
    contract: str | None
    deployment: str | None = None
    token_provider: TokenProvider | None = None
    allow_insecure_http: bool = False


def endpoint_options(args: argparse.Namespace) -> EndpointOptions:
    api_key = None if args.key_file is None else read_key_file(args.key_file)
    token_provider: TokenProvider | None = None
    if api_key is not None and api_key.startswith("{"):
        from bankmarketing_client.auth import token_file_provider

        token_provider, api_key = token_file_provider(args.key_file), None
        token_provider()  # a file that holds no usable token is refused now, with its name, not at the first call
    return EndpointOptions(
        scoring_uri=args.scoring_uri,
        api_key=api_key,
        contract=None if args.contract == "auto" else args.contract,
        deployment=args.deployment,
        token_provider=token_provider,
        allow_insecure_http=args.allow_insecure_http,
    )
