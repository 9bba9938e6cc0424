"""``discover``, ``logs`` and ``pipeline``: the Azure ML workspace side.

They replace copying URIs and keys from the studio by hand, the original ``logs.py`` and the
hand-written pipeline POST. ``--service`` names an SDK v1 web service (ACI/AKS, the ``azureml`` extra),
``--endpoint`` an SDK v2 managed online endpoint (the ``azureml-v2`` extra). The workspace comes from a
``config.json`` (``--config``, default ``./config.json``) or from ``--subscription-id/--resource-group/
--workspace-name``. Keys are never printed: ``discover --key-file`` writes the primary key (or an aml_token
answer) to a file only the user can read, for ``predict --key-file``; ``discover --endpoint --settings-file`` writes
the endpoint's settings (no secret) for ``score --endpoint-settings`` and Locust to start from. Every management call runs under
``--management-timeout``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bankmarketing_client.cli.exits import EXIT_FAILED, EXIT_OK
from bankmarketing_client.errors import ConfigurationError
from bankmarketing_client.files import write_secret_file

if TYPE_CHECKING:
    from azure.ai.ml import MLClient
    from azureml.core import Workspace
    from azureml.core.authentication import AbstractAuthentication

    from bankmarketing_client.azureml.workspace import WorkspaceRef

#: SDK v1 needs the ``azureml`` extra, SDK v2 the ``azureml-v2`` one.
V2_EXTRA_HINT = "install it with: pip install 'bankmarketing-client[azureml-v2]'"


def add_workspace_options(parser: argparse.ArgumentParser) -> None:
    """The options that locate a workspace and authenticate to it (shared with ``docs --service``)."""
    group = parser.add_argument_group("workspace")
    group.add_argument("--config", type=Path, help="workspace config.json, or a folder holding it (default ./)")
    group.add_argument("--subscription-id", help="instead of --config: the subscription id")
    group.add_argument("--resource-group", help="instead of --config: the resource group")
    group.add_argument("--workspace-name", help="instead of --config: the workspace name")
    group.add_argument(
        "--auth",
        choices=("cli", "interactive", "service-principal", "default"),
        default="cli",
        help="'cli' reuses `az login` (default); 'interactive' logs in through the browser within "
        "--management-timeout (raise it if you need more time); 'service-principal' reads AZURE_TENANT_ID, "
        "AZURE_CLIENT_ID and AZURE_CLIENT_SECRET from the environment; 'default' (--endpoint only) is "
        "azure-identity's DefaultAzureCredential (environment, managed identity, az login, ...)",
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


def add_cloud_options(parser: argparse.ArgumentParser) -> None:
    """Where Azure is, for SDK v2 (``--endpoint``): a sovereign cloud, or a custom one (Azure Stack Hub).

    The CA bundle for a private cloud's TLS comes from ``REQUESTS_CA_BUNDLE``, which azure-core's transport honours.
    """
    group = parser.add_argument_group("cloud (--endpoint only)")
    group.add_argument("--cloud", help="AzureCloud (default), AzureChinaCloud or AzureUSGovernment")
    group.add_argument("--arm-endpoint", metavar="URL", help="a custom cloud's Resource Manager (with --authority)")
    group.add_argument(
        "--authority",
        metavar="URL",
        help="a custom cloud's Entra ID authority, required with --arm-endpoint (without it azure-identity reads "
        "$AZURE_AUTHORITY_HOST); MSAL's instance discovery, which knows Microsoft's clouds only, is skipped for it",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    discover = subparsers.add_parser(
        "discover",
        aliases=["connect"],
        help="find a deployed service (v1) or online endpoint (v2): URIs, auth mode, traffic, settings (never keys)",
    )
    target = discover.add_mutually_exclusive_group(required=True)
    target.add_argument("--service", help="an SDK v1 web service's name (ACI/AKS)")
    target.add_argument("--endpoint", help="an SDK v2 managed online endpoint's name")
    discover.add_argument(
        "--deployment", metavar="NAME", help="with --endpoint: pin to this deployment (its limits, its header)"
    )
    discover.add_argument(
        "--key-file",
        type=Path,
        help="write the primary key (an aml_token endpoint: its current token answer, JSON) to this file "
        "(mode 0600) for `predict --key-file`",
    )
    discover.add_argument(
        "--settings-file",
        type=Path,
        help="with --endpoint: write the scoring URI, deployment, auth mode, pending limit and each deployment's "
        "request settings (no secret) as JSON, for `score --endpoint-settings` and Locust's --endpoint-settings",
    )
    add_workspace_options(discover)
    add_cloud_options(discover)
    discover.set_defaults(handler=run_discover)

    logs = subparsers.add_parser(
        "logs", help="print a service's or a deployment's logs; optionally enable Application Insights"
    )
    source = logs.add_mutually_exclusive_group(required=True)
    source.add_argument("--service", help="an SDK v1 web service's name")
    source.add_argument("--endpoint", help="an SDK v2 online endpoint's name (with --deployment)")
    logs.add_argument("--deployment", metavar="NAME", help="with --endpoint: the deployment whose logs to read")
    logs.add_argument(
        "--container",
        choices=("inference-server", "storage-initializer"),
        default="inference-server",
        help="with --endpoint: the scoring server (default) or the model download's container",
    )
    logs.add_argument("--tail", type=int, default=5000, help="how many of the last lines (default 5000)")
    logs.add_argument(
        "--enable-app-insights",
        action="store_true",
        help="turn Application Insights on (for --endpoint: the deployment's own setting; says if it already was, "
        "and waits for the update)",
    )
    add_workspace_options(logs)
    add_cloud_options(logs)
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


def _check_v1_target(args: argparse.Namespace) -> None:
    """The v2-only options make no sense with ``--service``: say so rather than ignore them."""
    given = [
        option
        for option, value in (
            ("--deployment", args.deployment),
            ("--cloud", args.cloud),
            ("--arm-endpoint", args.arm_endpoint),
            ("--authority", args.authority),
            ("--settings-file", getattr(args, "settings_file", None)),
        )
        if value is not None
    ]
    if getattr(args, "container", "inference-server") != "inference-server":
        given.append("--container")
    if args.auth == "default":
        given.append("--auth default")
    if given:
        raise ConfigurationError(f"{', '.join(given)} apply to --endpoint (SDK v2), not to --service")


def ml_client_from_args(args: argparse.Namespace) -> MLClient:
    """An ``MLClient`` for the workspace and credential the options name (SDK v2). The cloud's addresses are
    checked first, before any file is read or any sign-in: the management token goes only to https URLs."""
    from bankmarketing_client.azureml.v2.workspace import require_https

    for option, value in (("--arm-endpoint", args.arm_endpoint), ("--authority", args.authority)):
        if value is not None:
            require_https(value, option)
    ref = _workspace_ref(args)
    if args.arm_endpoint is not None and args.authority is None:
        raise ConfigurationError("--arm-endpoint needs --authority (the custom cloud's Entra ID)")
    if args.cloud is not None and args.arm_endpoint is not None:
        raise ConfigurationError("give either --cloud or --arm-endpoint/--authority")
    try:
        from bankmarketing_client.azureml.v2.workspace import CustomCloud, make_credential, open_ml_client

        # Building the credential and the client makes no call; each operation runs under the deadline.
        credential = make_credential(
            args.auth,
            tenant_id=args.tenant_id,
            authority=args.authority,
            disable_instance_discovery=args.authority is not None,
        )
        cloud = CustomCloud(args.arm_endpoint, args.authority) if args.arm_endpoint else args.cloud
        return open_ml_client(ref, credential, cloud=cloud)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "azure":
            raise
        raise ConfigurationError(f"--endpoint needs azure-ai-ml and azure-identity; {V2_EXTRA_HINT}") from None


def run_discover(args: argparse.Namespace) -> int:
    if args.endpoint is not None:
        return run_discover_endpoint(args)
    from bankmarketing_client.azureml.discovery import discover_service

    _check_v1_target(args)
    workspace = open_workspace_from_args(args)
    endpoint = discover_service(workspace, args.service, timeout=_check_timeout(args))
    print(endpoint.summary())
    if args.key_file is not None:
        if endpoint.primary_key is None:
            raise ConfigurationError(f"service {args.service!r} uses {endpoint.auth_mode} auth: it has no key to write")
        write_secret_file(args.key_file, endpoint.primary_key)
        print(f"primary key written to {args.key_file} (mode 0600)")
    return 0


def run_discover_endpoint(args: argparse.Namespace) -> int:
    """``discover --endpoint``: the v2 endpoint's summary; ``--key-file`` gets the key or the token answer,
    ``--settings-file`` the settings a run starts from."""
    from bankmarketing_client.azureml.v2.discovery import check_endpoint_name, discover_online_endpoint
    from bankmarketing_client.settings_file import EndpointSettingsFile, write_settings_file

    check_endpoint_name(args.endpoint)  # before signing in
    timeout = _check_timeout(args)
    ml_client = ml_client_from_args(args)
    info = discover_online_endpoint(ml_client, args.endpoint, args.deployment, timeout=timeout)
    print(info.summary())
    if args.settings_file is not None:
        write_settings_file(args.settings_file, EndpointSettingsFile.from_info(info))
        print(f"endpoint settings written to {args.settings_file} (no keys in it)")
    if args.key_file is None:
        return EXIT_OK
    if info.primary_key is not None:
        write_secret_file(args.key_file, info.primary_key)
        print(f"primary key written to {args.key_file} (mode 0600)")
    elif info.token_provider is not None:
        token = info.token_provider()
        answer = {"accessToken": token.token, "expiryTimeUtc": token.expires_on, "tokenType": "Bearer"}
        if token.refresh_on is not None:
            answer["refreshAfterTimeUtc"] = token.refresh_on
        write_secret_file(args.key_file, json.dumps(answer))
        print(f"current token written to {args.key_file} (mode 0600); it is not renewed there")
    else:
        raise ConfigurationError(
            f"endpoint {args.endpoint!r} uses aad_token auth: it has no key; the client takes your credential"
        )
    return EXIT_OK


def run_logs(args: argparse.Namespace) -> int:
    from bankmarketing_client.azureml.discovery import get_webservice
    from bankmarketing_client.azureml.logs import enable_app_insights, fetch_logs

    if args.tail <= 0:  # checked before logging in, not only by fetch_logs after two management calls
        raise ConfigurationError("--tail must be a positive number of lines")
    if args.endpoint is not None:
        return run_endpoint_logs(args)
    _check_v1_target(args)
    workspace = open_workspace_from_args(args)
    timeout = _check_timeout(args)
    service = get_webservice(workspace, args.service, timeout=timeout)
    if args.enable_app_insights:
        change = enable_app_insights(service, timeout=timeout)
        print(change.summary(), file=sys.stderr)
    print(fetch_logs(service, tail=args.tail, timeout=timeout))
    return 0


def run_endpoint_logs(args: argparse.Namespace) -> int:
    """``logs --endpoint E --deployment D``: App Insights first (if asked), then the container's log on stdout."""
    from bankmarketing_client.azureml.v2.discovery import check_endpoint_name
    from bankmarketing_client.azureml.v2.logs import enable_deployment_app_insights, fetch_deployment_logs
    from bankmarketing_client.client import check_deployment

    if args.deployment is None:
        raise ConfigurationError("logs --endpoint needs --deployment: logs belong to one deployment")
    deployment = check_deployment(args.deployment)
    check_endpoint_name(args.endpoint)  # before signing in
    timeout = _check_timeout(args)
    ml_client = ml_client_from_args(args)
    if args.enable_app_insights:
        change = enable_deployment_app_insights(ml_client, args.endpoint, deployment, timeout=timeout)
        print(change.summary(), file=sys.stderr)
    text = fetch_deployment_logs(
        ml_client, args.endpoint, deployment, container=args.container, tail=args.tail, timeout=timeout
    )
    print(text, end="" if text.endswith("\n") else "\n")
    return EXIT_OK


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
