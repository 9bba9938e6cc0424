"""``bankmarketing-client local ...``: run the local endpoint, and recompute the model's figures."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bankmarketing_client.cli import positive_int
from bankmarketing_client.cli.exits import EXIT_FAILED
from bankmarketing_client.contracts import served_locally
from bankmarketing_client.errors import ConfigurationError
from bankmarketing_client.files import write_secret_file

# No aiohttp in these: --help works without the 'local' extra.
from bankmarketing_client.local.limits import DEFAULT_LIMITS, DEPLOYMENT_FIELDS, parse_deployment, parse_shares
from bankmarketing_client.local.tokens import DEFAULT_LIFETIME_S

#: Where ``local traffic`` finds the admin key when no ``--admin-key-file`` is given.
ADMIN_KEY_ENV = "BANKMARKETING_LOCAL_ADMIN_KEY"


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port (0..65535; 0 picks a free one)")
    return port


def register(subparsers: Any) -> None:
    local = subparsers.add_parser("local", help="the local endpoint (needs the 'local' extra)")
    commands = local.add_subparsers(dest="local_command", metavar="SUBCOMMAND", required=True)

    serve = commands.add_parser("serve", help="run the local endpoint until Ctrl-C or SIGTERM")
    serve.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=0, help="port of the front (default: a free one)")
    serve.add_argument("--contract", choices=served_locally(), default="inputs", help="the family to serve")
    serve.add_argument("--primary-key", help="default: generated, shown once on stdout")
    serve.add_argument("--secondary-key", help="default: generated")
    limits = DEFAULT_LIMITS
    serve.add_argument(
        "--request-timeout-ms",
        type=positive_int,
        default=limits.request_timeout_ms,
        help="408 past this (default: %(default)s)",
    )
    serve.add_argument(
        "--max-concurrent-requests",
        type=positive_int,
        default=limits.max_concurrent_requests_per_instance,
        help="per instance, as in Azure (default: %(default)s)",
    )
    serve.add_argument(
        "--max-pending", type=positive_int, default=limits.max_pending, help="429 above this (default: 2 x concurrency)"
    )
    serve.add_argument(
        "--max-body-bytes",
        type=positive_int,
        default=limits.max_body_bytes,
        help="413 above this (default: %(default)s)",
    )
    serve.add_argument(
        "--header-timeout-ms",
        type=positive_int,
        default=limits.header_timeout_ms,
        help="close connections slower to send their headers (default: %(default)s)",
    )
    serve.add_argument(
        "--deployment",
        action="append",
        metavar="NAME[=MODEL][,SETTING=N...]",
        help=(
            "a deployment, each its own container; repeat for several (default: one, 'blue'). MODEL is 'default' "
            "(the model in service) or 'balanced' (class-weighted); 'green' gets 'balanced' unless told, any other "
            "name 'default'. SETTINGs override the limits above for this deployment: "
            + ", ".join(DEPLOYMENT_FIELDS)
            + "; answers=probabilities makes an mlflow deployment's model predict probabilities"
        ),
    )
    serve.add_argument(
        "--traffic",
        metavar="NAME=PCT,...",
        help="live traffic split, summing to 100 (or 0: none), e.g. blue=90,green=10 (default: all to the first)",
    )
    serve.add_argument(
        "--mirror",
        metavar="NAME=PCT",
        help="copy this share (<= 50) of live traffic to a deployment without live traffic",
    )
    serve.add_argument("--routing-seed", type=int, default=0, help="seed of the traffic split's RNG")
    serve.add_argument(
        "--auth-mode", choices=("key", "aml_token"), default="key", help="what /score accepts (default: key)"
    )
    serve.add_argument(
        "--token-lifetime-s",
        type=positive_int,
        help=f"aml_token: seconds a token lasts (default: {DEFAULT_LIFETIME_S})",
    )
    serve.add_argument(
        "--token-refresh-after-s",
        type=positive_int,
        help="aml_token: seconds before a token should be renewed (default: half its lifetime)",
    )
    serve.add_argument(
        "--token-file",
        help="aml_token: keep a current token here (JSON as Azure's get_keys returns it, mode 0600), renewed at each "
        "refresh-after time",
    )
    serve.add_argument(
        "--admin-key-file",
        help="write the key of the admin routes (counters, 'local traffic') here, mode 0600 (default: shown once)",
    )
    serve.add_argument("--workers", type=int, default=2, help="gunicorn workers in each container")
    serve.add_argument("--data", help="training CSV (default: $BANKMARKETING_DATA, the cache, or a download)")
    serve.add_argument("--fault-503", type=float, default=0.0, help="share of /score requests answered 503")
    serve.add_argument("--fault-429", type=float, default=0.0, help="share answered 429 with Retry-After")
    serve.add_argument("--fault-retry-after", type=float, default=1.0, help="Retry-After seconds for --fault-429")
    serve.add_argument("--fault-reset", type=float, default=0.0, help="share of connections reset")
    serve.add_argument("--fault-latency-ms", type=float, default=0.0, help="latency added to each /score")
    serve.add_argument("--fault-seed", type=int, default=0)
    serve.add_argument("--model-delay-ms", type=float, default=0.0, help="make the model slow (timeout tests)")
    serve.add_argument("--log-dir", help="keep the container's and the front's logs here (default: removed on stop)")
    serve.set_defaults(handler=_serve)

    traffic = commands.add_parser(
        "traffic", help="change a running local endpoint's traffic split (as 'az ml online-endpoint update --traffic')"
    )
    traffic.add_argument(
        "split",
        nargs="?",
        metavar="NAME=PCT,...",
        help="the new live split, replacing the old one whole, e.g. blue=0,green=100 (default: unchanged)",
    )
    traffic.add_argument(
        "--mirror", metavar="NAME=PCT", help="the new mirror share; NAME=0 ends the mirror (default: unchanged)"
    )
    traffic.add_argument("--scoring-uri", help="the endpoint's scoring URI (default: $BANKMARKETING_SCORING_URI)")
    traffic.add_argument(
        "--admin-key-file",
        help=f"the file 'local serve --admin-key-file' wrote (default: ${ADMIN_KEY_ENV}); scoring keys and tokens "
        "cannot change routing",
    )
    traffic.set_defaults(handler=_traffic)

    model = commands.add_parser(
        "model", help="retrain both models from scratch and print their holdout accuracy, AUC, recall and precision"
    )
    model.add_argument("--data", help="training CSV (default: $BANKMARKETING_DATA)")
    model.add_argument("--json", action="store_true", help="print JSON")
    model.set_defaults(handler=_model)


def _routing_options(args: argparse.Namespace) -> dict[str, Any]:
    """The deployment keywords of ``LocalEndpoint`` from the command line; a malformed value is one line, exit 2."""
    from bankmarketing_client.local.limits import FrontLimits

    token_options = [args.token_lifetime_s, args.token_refresh_after_s, args.token_file]
    if args.auth_mode == "key" and any(option is not None for option in token_options):
        raise ConfigurationError(
            "--token-lifetime-s, --token-refresh-after-s and --token-file need --auth-mode aml_token"
        )
    if args.auth_mode == "aml_token" and (args.primary_key or args.secondary_key):
        raise ConfigurationError(
            "--primary-key/--secondary-key need --auth-mode key; an aml_token endpoint takes tokens"
        )
    try:
        base = FrontLimits(
            request_timeout_ms=args.request_timeout_ms,
            max_concurrent_requests_per_instance=args.max_concurrent_requests,
            max_pending=args.max_pending,
            max_body_bytes=args.max_body_bytes,
            header_timeout_ms=args.header_timeout_ms,
        )
        options: dict[str, Any] = {
            "deployments": [parse_deployment(text, base) for text in args.deployment or ["blue"]],
            "traffic": parse_shares(args.traffic, "--traffic") if args.traffic is not None else None,
            "mirror": parse_shares(args.mirror, "--mirror") if args.mirror else None,
        }
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    options["routing_seed"] = args.routing_seed
    options["auth_mode"] = args.auth_mode
    if args.token_lifetime_s is not None:
        options["token_lifetime_s"] = args.token_lifetime_s
    if args.token_refresh_after_s is not None:
        options["token_refresh_after_s"] = args.token_refresh_after_s
    return options


def _write_token(path: Path, token: dict[str, Any]) -> float:
    """Replace the token file (JSON as Azure's ``get_keys`` returns it, owner-only); when to renew it."""
    write_secret_file(path, json.dumps(token), what="token file")
    refresh_after: float = token["refreshAfterTimeUtc"]
    return refresh_after


def _serve(args: argparse.Namespace) -> int:
    from bankmarketing_client.local import FaultSpec, LocalEndpoint

    try:
        faults = FaultSpec(
            unavailable_ratio=args.fault_503,
            throttled_ratio=args.fault_429,
            retry_after_seconds=args.fault_retry_after,
            reset_ratio=args.fault_reset,
            latency_ms=args.fault_latency_ms,
            seed=args.fault_seed,
        )
    except ValueError as exc:
        raise ConfigurationError(f"fault options: {exc}") from None
    routing = _routing_options(args)
    endpoint = LocalEndpoint(  # checks the deployments and traffic before anything starts (exit 2 if wrong)
        contract=args.contract,
        host=args.host,
        port=args.port,
        primary_key=args.primary_key,
        secondary_key=args.secondary_key,
        request_timeout_ms=args.request_timeout_ms,
        max_concurrent_requests_per_instance=args.max_concurrent_requests,
        max_pending=args.max_pending,
        max_body_bytes=args.max_body_bytes,
        header_timeout_ms=args.header_timeout_ms,
        faults=faults,
        model_delay_ms=args.model_delay_ms,
        worker_count=args.workers,
        data_path=args.data,
        log_dir=args.log_dir,
        **routing,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    token_file = Path(args.token_file) if args.token_file else None
    renew_at = float("inf")
    if args.admin_key_file:
        write_secret_file(args.admin_key_file, endpoint.admin_key, what="admin key file")
    if token_file is not None:
        # Written before anything starts: a token file that cannot be written (a directory, a missing folder) is
        # one line and exit 2, not a failure of an endpoint already serving. The front checks tokens with the
        # secret this process holds, so a token issued now is valid once it listens.
        renew_at = _write_token(token_file, endpoint.get_token())
    with endpoint:
        print(f"scoring URI: {endpoint.scoring_uri}")
        print(f"swagger URI: {endpoint.swagger_uri}")
        print(f"contract:    {endpoint.contract}")
        live = endpoint.routing.live
        for deployment in endpoint.routing.deployments:
            mirrored = endpoint.routing.mirrored.get(deployment.name)
            share = f"mirror {mirrored} %" if mirrored else f"traffic {live[deployment.name]} %"
            answers = "" if deployment.answers == "labels" else f", answers {deployment.answers}"
            print(f"deployment:  {deployment.name} (model {deployment.model}{answers}, {share})")
        if token_file is not None:
            print(f"token file:  {token_file} (renewed at each refresh-after time)")
        elif endpoint.auth_mode == "aml_token":
            token = endpoint.get_token()
            # Shown once, on the terminal only, so the user can copy it; it is never logged.
            print(f"token (shown once, expires at {token['expiryTimeUtc']} UTC epoch s): {token['accessToken']}")
        elif args.primary_key is None:
            # Shown once, on the terminal only, so the user can copy it; it is never logged.
            print(f"primary key (generated, shown once): {endpoint.primary_key}")
        if args.admin_key_file:
            print(f"admin key:   in {args.admin_key_file} (for 'local traffic' and the counters)")
        else:
            print(f"admin key (generated, shown once): {endpoint.admin_key}")
        print("ready; Ctrl-C to stop", flush=True)
        while not stop.wait(0.5):
            if not all(child.alive() for child in endpoint.children()):
                print("bankmarketing-client: error: a local endpoint process died; stopping", file=sys.stderr)
                return EXIT_FAILED
            if token_file is not None and time.time() >= renew_at:
                renew_at = _write_token(token_file, endpoint.get_token())
    print("stopped")
    return 0


def _traffic(args: argparse.Namespace) -> int:
    from bankmarketing_client.cli.keys import read_key_file
    from bankmarketing_client.local.endpoint import put_traffic
    from bankmarketing_client.urls import is_loopback

    scoring_uri = args.scoring_uri or os.environ.get("BANKMARKETING_SCORING_URI")
    if not scoring_uri or not scoring_uri.endswith("/score"):
        raise ConfigurationError("--scoring-uri (or $BANKMARKETING_SCORING_URI) must be the endpoint's .../score URI")
    host = urlsplit(scoring_uri).hostname or ""
    if not is_loopback(host):  # the admin key goes nowhere else
        raise ConfigurationError(f"a local endpoint listens on loopback only; --scoring-uri names {host[:80]!r}")
    admin_key = read_key_file(args.admin_key_file) if args.admin_key_file else os.environ.get(ADMIN_KEY_ENV)
    if not admin_key:
        raise ConfigurationError(
            f"the endpoint's admin key is needed: --admin-key-file (the file 'local serve --admin-key-file' wrote), "
            f"or ${ADMIN_KEY_ENV}"
        )
    if args.split is None and args.mirror is None:
        raise ConfigurationError("give a new traffic split (NAME=PCT,...), a new --mirror, or both")
    try:
        split = parse_shares(args.split, "traffic") if args.split is not None else None
        mirror = parse_shares(args.mirror, "--mirror") if args.mirror is not None else None
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    answer = put_traffic(scoring_uri.removesuffix("/score"), admin_key, split, mirror)
    shares = ", ".join(f"{name} {share} %" for name, share in answer["traffic"].items())
    mirrored = ", ".join(f"{name} {share} %" for name, share in answer["mirror"].items()) or "none"
    print(f"traffic: {shares}; mirror: {mirrored}")
    return 0


def _model(args: argparse.Namespace) -> int:
    from bankmarketing_client.local.model import report

    figures = report(args.data)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    models: dict[str, dict[str, Any]] = figures.pop("models")
    for key in ("accuracy", "AUC_weighted", "iterations", "train_seconds"):
        figures.pop(key)  # the default model's, shown in the table below
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    columns = list(next(iter(models.values())))
    print()
    print(f"{'model':<10}" + "".join(f"{name:>15}" for name in columns))
    for variant, row in models.items():
        print(f"{variant:<10}" + "".join(f"{row[name]:>15}" for name in columns))
    return 0
