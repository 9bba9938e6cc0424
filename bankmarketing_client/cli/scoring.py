"""``health``, ``swagger`` and ``predict``: the original project's ``endpoint.py``, done properly.

The endpoint comes from ``--scoring-uri`` or ``$BANKMARKETING_SCORING_URI``; the key only from the environment
(``$BANKMARKETING_API_KEY``, optionally ``$BANKMARKETING_SECONDARY_KEY``) or ``--key-file`` (which may hold an
``aml_token`` answer instead), never from argv, where it would show in ``ps`` and shell history. ``predict`` reads
records from a JSON file in any of the shapes Azure users keep (a list of records, ``{"data": [...]}`` or
``{"Inputs": {"data": [...]}}``), validates them before sending anything, and sends them in the endpoint's own
contract. ``--deployment`` (or ``$BANKMARKETING_DEPLOYMENT``) sends every call to one deployment; ``predict`` says
which one answered, and a name the endpoint does not know (its 404) is a user error (exit 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bankmarketing_client.cli import positive_int
from bankmarketing_client.cli.endpoint_options import add_endpoint_options, endpoint_options
from bankmarketing_client.cli.exits import unknown_deployment_is_a_user_error
from bankmarketing_client.contract import read_records_file
from bankmarketing_client.errors import ConfigurationError

if TYPE_CHECKING:
    from bankmarketing_client.client import ScoringClient


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    add_endpoint_options(common)
    common.add_argument("--timeout", type=float, default=60.0, help="overall deadline per call in seconds")
    common.add_argument("--retries", type=int, default=4, help="retries after the first attempt (default 4)")

    health = subparsers.add_parser("health", parents=[common], help="check that the endpoint answers")
    health.set_defaults(handler=run_health)

    swagger = subparsers.add_parser("swagger", parents=[common], help="download the endpoint's swagger")
    swagger.add_argument("--version", default=None, help="2 (default), 3 or 3.1")
    swagger.add_argument("-o", "--output", type=Path, help="write it to this file instead of stdout")
    swagger.set_defaults(handler=run_swagger)

    predict = subparsers.add_parser("predict", parents=[common], help="score records from a JSON file")
    predict.add_argument("--json", dest="json_path", type=Path, required=True, help="the records (JSON file)")
    predict.add_argument("--proba", action="store_true", help="also print P(yes) ('inputs' endpoints)")
    predict.add_argument("--raw-output", type=Path, help="write the endpoint's answer, byte for byte, here")
    predict.add_argument(
        "--max-answer-bytes",
        type=positive_int,
        metavar="N",
        help="the most of one answer read, in bytes (default: 1 MiB + 512 bytes per record sent); a larger answer stops the call with an error, memory bounded",
    )
    predict.set_defaults(handler=run_predict)


def _client(args: argparse.Namespace) -> ScoringClient:
    from bankmarketing_client.answers import AnswerLimits
    from bankmarketing_client.client import ScoringClient, Timeouts
    from bankmarketing_client.retry import RetryPolicy

    endpoint = endpoint_options(args)
    if args.retries < 0 or args.timeout <= 0:
        raise ConfigurationError("--retries must be 0 or more and --timeout positive")
    return ScoringClient(
        endpoint.scoring_uri,
        endpoint.api_key,
        token_provider=endpoint.token_provider,
        deployment=endpoint.deployment,
        contract=endpoint.contract,
        allow_insecure_http=endpoint.allow_insecure_http,
        timeouts=Timeouts(total=args.timeout),
        retry=RetryPolicy(max_attempts=args.retries + 1, deadline=args.timeout),
        answer_limits=AnswerLimits.fixed(cap) if (cap := getattr(args, "max_answer_bytes", None)) else None,
    )


def run_health(args: argparse.Namespace) -> int:
    with _client(args) as client, unknown_deployment_is_a_user_error(client.deployment):
        print(client.health())
    return 0


def run_swagger(args: argparse.Namespace) -> int:
    with _client(args) as client, unknown_deployment_is_a_user_error(client.deployment):
        spec = client.swagger(version=args.version)
    text = json.dumps(spec, indent=2) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def run_predict(args: argparse.Namespace) -> int:
    records = read_records_file(args.json_path)
    with _client(args) as client, unknown_deployment_is_a_user_error(client.deployment):
        result = client.score(records, proba=args.proba)
    if args.raw_output is not None:
        args.raw_output.write_bytes(result.body)
    for prediction in result.predictions:
        if prediction.probability is None:
            print(f"{prediction.row}\t{prediction.label}")
        else:
            print(f"{prediction.row}\t{prediction.label}\t{prediction.probability:.4f}")
    served = f" (deployment {result.deployment})" if result.deployment else ""
    print(f"request id {result.request_id or result.client_request_id}{served}", file=sys.stderr)
    return 0
