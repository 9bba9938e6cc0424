"""``batch-endpoint invoke``: start a job on an Azure ML batch endpoint (SDK v2) and optionally follow it.

Batch endpoints are v2's successor of the published pipelines ``pipeline --endpoint`` triggers. The workspace,
sign-in and cloud options are ``discover --endpoint``'s (needs the ``azureml-v2`` extra). Output: the job's name
and studio URL on stdout; with ``--wait`` each status change on stderr and the final status on stdout, exit 0
only if Completed.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bankmarketing_client.cli.azure import _check_timeout, add_cloud_options, add_workspace_options, ml_client_from_args
from bankmarketing_client.cli.exits import EXIT_FAILED, EXIT_OK
from bankmarketing_client.errors import ConfigurationError

if TYPE_CHECKING:
    from bankmarketing_client.azureml.v2.batch_endpoints import BatchJobState


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = subparsers.add_parser("batch-endpoint", help="Azure ML batch endpoints (SDK v2): start and follow jobs")
    actions = group.add_subparsers(dest="batch_action", metavar="ACTION", required=True)
    invoke = actions.add_parser("invoke", help="start a job on a batch endpoint; print its name and studio URL")
    invoke.add_argument("name", help="the batch endpoint's name")
    invoke.add_argument(
        "--input",
        required=True,
        metavar="URI",
        help="what to score: https://..., azureml://datastores/..., wasbs://, abfss:// or a data asset "
        "azureml:NAME:VERSION (upload local files first, e.g. with `az ml data create`)",
    )
    invoke.add_argument(
        "--input-type",
        choices=("uri_file", "uri_folder"),
        help="default: uri_file when the URI's last segment has an extension, else uri_folder",
    )
    invoke.add_argument("--deployment", help="a deployment of the endpoint instead of its default one")
    invoke.add_argument("--wait", action="store_true", help="follow the job; exit 1 unless it Completes")
    invoke.add_argument("--poll-interval", type=float, default=15.0, help="seconds between reads (default 15)")
    invoke.add_argument("--run-timeout", type=float, default=3600.0, help="stop waiting after this many s")
    add_workspace_options(invoke)
    add_cloud_options(invoke)
    invoke.set_defaults(handler=run_invoke)


def run_invoke(args: argparse.Namespace) -> int:
    from bankmarketing_client.azureml.v2.batch_endpoints import (
        JobStillRunning,
        check_input_uri,
        follow_job,
        invoke_batch_endpoint,
    )
    from bankmarketing_client.azureml.v2.discovery import check_endpoint_name

    timeout = _check_timeout(args)
    if args.poll_interval <= 0 or args.run_timeout <= 0:
        raise ConfigurationError("--poll-interval and --run-timeout must be positive")
    check_endpoint_name(args.name, kind="batch endpoint")  # checked before signing in, not after two management calls
    check_input_uri(args.input)
    ml_client = ml_client_from_args(args)
    job = invoke_batch_endpoint(
        ml_client, args.name, args.input, deployment=args.deployment, input_type=args.input_type, timeout=timeout
    )
    print(job.name)
    print(job.studio_url or "(no studio URL given)")
    if not args.wait:
        return EXIT_OK

    def heard(state: BatchJobState) -> None:
        print(f"job {state.name}: {state.status}", file=sys.stderr)

    try:
        final = follow_job(
            ml_client,
            job.name,
            poll_interval=args.poll_interval,
            run_timeout=args.run_timeout,
            request_timeout=timeout,
            on_status=heard,
        )
    except JobStillRunning as exc:
        print(f"bankmarketing-client: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(final.status)
    return EXIT_OK if final.succeeded else EXIT_FAILED
