"""``bankmarketing-client``: thin subcommands over the library.

Each ``cli/<group>.py`` module exposes ``register(subparsers)``; handlers take the parsed namespace and return
an exit code. Heavy imports happen inside handlers so that ``--help`` stays fast. Any :class:`BankMarketingError`
(a user mistake, or the endpoint's failure) is printed as one line on stderr, never as a traceback, and exits with
the code :mod:`.exits` gives it (the table of every exit code).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from bankmarketing_client.cli.exits import EXIT_INTERRUPTED, EXIT_USER_ERROR, exit_code_for
from bankmarketing_client.errors import BankMarketingError

#: Subcommand modules, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = ("scoring", "batch", "local", "azure", "capacity", "docs")


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (counts, sizes and timeouts where 0 means nothing works)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


#: Top-level module -> the extra that installs it, for a one-line hint instead of a ModuleNotFoundError.
OPTIONAL_MODULES: dict[str, str] = {
    "azureml": "azureml",
    "azure": "azureml-v2",  # azure-ai-ml, azure-identity, azure-core
    "pyspark": "spark",
    "azureml_inference_server_http": "local",
    "inference_schema": "local",
    "sklearn": "local",
    "aiohttp": "local",
    "pandas": "batch",
    "pyarrow": "batch",
    "locust": "loadtest",
    "swagger_ui_bundle": "docs",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bankmarketing-client",
        description="Talk to the Azure ML bank-marketing endpoint, or run a local one that behaves like it.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"bankmarketing_client.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.verbose == 0:
        # azure-identity logs each failed sign-in as a WARNING line; the one-line error below carries its reason.
        logging.getLogger("azure.identity").setLevel(logging.ERROR)
    try:
        code: int = args.handler(args)
    except BankMarketingError as exc:
        print(f"bankmarketing-client: error: {exc}", file=sys.stderr)
        return exit_code_for(exc)
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top not in OPTIONAL_MODULES:
            raise
        print(
            f"bankmarketing-client: error: this command needs {top!r}; "
            f"install it with: pip install 'bankmarketing-client[{OPTIONAL_MODULES[top]}]'",
            file=sys.stderr,
        )
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("bankmarketing-client: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return code


if __name__ == "__main__":
    sys.exit(main())
