"""``discover``, ``logs`` and ``pipeline``: the Azure ML workspace side (needs the ``azureml`` extra).

They replace copying URIs and keys from the studio by hand, the original ``logs.py`` and the
hand-written pipeline POST. The workspace comes from a ``config.json`` (``--config``, default
``./config.json``) or from ``--subscription-id/--resource-group/--workspace-name``. Keys are never printed:
``discover --key-file`` writes the primary key to a file only the user can read, for ``predict --key-file``.
Every management call runs under ``--management-timeout``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bankmarketing_client.cli.exits import EXIT_FAILED, EXIT_OK
from bankmarketing_client.errors import ConfigurationError

if TYPE_CHECKING:
    from azureml.core import Workspace
    from azureml.core.authentication import AbstractAuthentication

    from bankmarketing_client.azureml.workspace import WorkspaceRef


def add_workspace_options(parser: argparse.ArgumentParser) -> None:
    """The options that locate a workspace and authenticate to it (shared with ``docs --service``)."""
    group = parser.add_argument_group("workspace")
    group.add_argument("--config", type=Path, help="workspace config.json, or a folder holding it (default ./)")
    group.add_argument("--subscription-id", help="instead of --config: the subscription id")
    group.add_argument("--resource-group", help="instead of --config: the resource group")
    group.add_argument("--workspace-name", help="instead of --config: the workspace name")
    group.add_argument(
        "--auth",
        choices=("cli", "interactive", "service-principal"),
        default="cli",
        help="'cli' reuses `az login` (default); 'interactive' logs in through the browser within "
        "--management-timeout (raise it if you need more time); 'service-principal' reads AZURE_TENANT_ID, "
        "AZURE_CLIENT_ID and AZURE_CLIENT_SECRET from the environment",
    )
    group.add_argument("--tenant-id", help="tenant for interactive or service-principal login")
    group.add_argument(
        "--management-timeout",
        type=float,
        default=60.0,
        help="deadline in seconds for each Azure management call (default 60)",
    )
    group.add_argument(
        "--skip-workspace-check",
        action="store_true",
        help="do not look the workspace up before the first service call (one call fewer)",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    discover = subparsers.add_parser(
        "discover",
        aliases=["connect"],
        help="find a deployed service: scoring URI, swagger URI, auth mode (never prints keys)",
    )
    discover.add_argument("--service", required=True, help="the deployed service's name")
    discover.add_argument(
        "--key-file", type=Path, help="write the primary key to this file (mode 0600) for `predict --key-file`"
    )
    add_workspace_options(discover)
    discover.set_defaults(handler=run_discover)

    logs = subparsers.add_parser("logs", help="print a service's logs; optionally enable Application Insights")
    logs.add_argument("--service", required=True, help="the deployed service's name")
    logs.add_argument("--tail", type=int, default=5000, help="how many of the last lines (default 5000)")
    logs.add_argument(
        "--enable-app-insights", action="store_true", help="turn Application Insights on (says if it already was)"
    )
    add_workspace_options(logs)
    logs.set_defaults(handler=run_logs)

    pipeline = subparsers.add_parser("pipeline", help="trigger a published pipeline by its REST endpoint")
    pipeline.add_argument("--endpoint", required=True, help="the published pipeline's REST endpoint")
    pipeline.add_argument("--experiment", required=True, help="experiment name for the run")
    pipeline.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a pipeline parameter (repeatable); VALUE is read as JSON when it parses, else as a string",
    )
    pipeline.add_argument("--wait", action="store_true", help="poll the run until it ends; exit 1 unless Completed")
    pipeline.add_argument("--poll-interval", type=float, default=15.0, help="seconds between polls (default 15)")
    pipeline.add_argument("--run-timeout", type=float, default=3600.0, help="give up waiting after this many s")
    add_workspace_options(pipeline)
    pipeline.set_defaults(handler=run_pipeline)
    from bankmarketing_client.cli import azure_batch  # v2 batch endpoints (imports this module: import here)

    azure_batch.register(subparsers)


def _workspace_ref(args: argparse.Namespace) -> WorkspaceRef:
    from bankmarketing_client.azureml.workspace import WorkspaceRef

    explicit = (args.subscription_id, args.resource_group, args.workspace_name)
    if any(explicit):
        if not all(explicit) or args.config is not None:
            raise ConfigurationError(
                "give either --config or all three of --subscription-id, --resource-group, --workspace-name"
            )
        return WorkspaceRef(*explicit)
    return WorkspaceRef.from_config(args.config if args.config is not None else Path("config.json"))


def _auth(args: argparse.Namespace) -> AbstractAuthentication:
    from bankmarketing_client.azureml.workspace import make_auth

    return make_auth(args.auth, tenant_id=args.tenant_id, timeout=_check_timeout(args))


def _check_timeout(args: argparse.Namespace) -> float:
    timeout: float = args.management_timeout
    if timeout <= 0:
        raise ConfigurationError("--management-timeout must be positive")
    return timeout


def open_workspace_from_args(args: argparse.Namespace) -> Workspace:
    from bankmarketing_client.azureml.workspace import open_workspace

    timeout = _check_timeout(args)
    ref = _workspace_ref(args)
    return open_workspace(ref, _auth(args), verify=not args.skip_workspace_check, timeout=timeout)


def write_secret_file(path: Path, secret: str) -> None:
    """Write ``secret`` to ``path`` readable by the owner only, never even briefly readable by others.

    A new file is created 0600; an existing one keeps its mode through ``open``, so it is narrowed before the
    key is written, not after.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(fd, 0o600)
            handle.write(secret + "\n")
    except OSError as exc:
        raise ConfigurationError(f"cannot write the key file {path}: {exc.strerror}") from None


def run_discover(args: argparse.Namespace) -> int:
    from bankmarketing_client.azureml.discovery import discover_service

    workspace = open_workspace_from_args(args)
    endpoint = discover_service(workspace, args.service, timeout=_check_timeout(args))
    print(endpoint.summary())
    if args.key_file is not None:
        if endpoint.primary_key is None:
            raise ConfigurationError(f"service {args.service!r} uses {endpoint.auth_mode} auth: it has no key to write")
        write_secret_file(args.key_file, endpoint.primary_key)
        print(f"primary key written to {args.key_file} (mode 0600)")
    return 0


def run_logs(args: argparse.Namespace) -> int:
    from bankmarketing_client.azureml.discovery import get_webservice
    from bankmarketing_client.azureml.logs import enable_app_insights, fetch_logs

    if args.tail <= 0:  # checked before logging in, not only by fetch_logs after two management calls
        raise ConfigurationError("--tail must be a positive number of lines")
    workspace = open_workspace_from_args(args)
    timeout = _check_timeout(args)
    service = get_webservice(workspace, args.service, timeout=timeout)
    if args.enable_app_insights:
        change = enable_app_insights(service, timeout=timeout)
        print(change.summary(), file=sys.stderr)
    print(fetch_logs(service, tail=args.tail, timeout=timeout))
    return 0


def parse_params(pairs: list[str]) -> dict[str, object]:
    """``NAME=VALUE`` pairs to a dict; VALUE as JSON when it parses (5, true, "x"), else the raw string."""
    params: dict[str, object] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigurationError(f"--param {pair!r}: expected NAME=VALUE")
        try:
            value: object = json.loads(raw)
        except ValueError:
            value = raw
        params[name.strip()] = value
    return params


def run_pipeline(args: argparse.Namespace) -> int:
    from bankmarketing_client.azureml.pipelines import RunHistory, trigger_pipeline, wait_for_run

    timeout = _check_timeout(args)
    params = parse_params(args.param)
    if args.poll_interval <= 0 or args.run_timeout <= 0:
        raise ConfigurationError("--poll-interval and --run-timeout must be positive")
    workspace = open_workspace_from_args(args) if args.wait else None
    auth = workspace._auth_object if workspace is not None else _auth(args)
    run_id = trigger_pipeline(args.endpoint, auth=auth, experiment=args.experiment, parameters=params, timeout=timeout)
    print(run_id)
    if workspace is None:
        return 0
    history = RunHistory.for_workspace(workspace, timeout=timeout)
    final = wait_for_run(
        history,
        args.experiment,
        run_id,
        poll_interval=args.poll_interval,
        timeout=args.run_timeout,
        request_timeout=timeout,
        on_status=lambda status: print(f"run {run_id}: {status}", file=sys.stderr),
    )
    print(final)
    return EXIT_OK if final == "Completed" else EXIT_FAILED
