"""The options every command that talks to an endpoint shares: where it is, the key, and its contract.

Not a command module: it registers nothing. Keys come from the environment or ``--key-file``, never argv.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from bankmarketing_client.cli.keys import read_key_file

CONTRACT_CHOICES = ("auto", "inputs", "data", "data-method")


def add_endpoint_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scoring-uri", help="the endpoint's scoring URI (default: $BANKMARKETING_SCORING_URI)")
    parser.add_argument(
        "--key-file",
        type=Path,
        help="file holding the key (default: $BANKMARKETING_API_KEY); keys are never taken from the command line",
    )
    parser.add_argument(
        "--contract",
        choices=CONTRACT_CHOICES,
        default="auto",
        help="the request contract (default: read it from the endpoint's swagger)",
    )


@dataclass(frozen=True)
class EndpointOptions:
    """Which endpoint the options name, with which key and contract; ``None`` fields fall back to the
    environment in the client."""

    scoring_uri: str | None
    api_key: str | None
    contract: str | None


def endpoint_options(args: argparse.Namespace) -> EndpointOptions:
    return EndpointOptions(
        scoring_uri=args.scoring_uri,
        api_key=None if args.key_file is None else read_key_file(args.key_file),
        contract=None if args.contract == "auto" else args.contract,
    )
