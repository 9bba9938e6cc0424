"""``bankmarketing-client local ...``: run the local endpoint, and recompute the model's figures."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from bankmarketing_client.cli import positive_int
from bankmarketing_client.errors import ConfigurationError
from bankmarketing_client.local.limits import DEFAULT_LIMITS  # no aiohttp: --help works without the 'local' extra


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
    serve.add_argument("--contract", choices=("inputs", "data"), default="inputs")
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
    serve.add_argument("--workers", type=int, default=2, help="gunicorn workers in the container")
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

    model = commands.add_parser("model", help="retrain from scratch and print holdout accuracy and AUC")
    model.add_argument("--data", help="training CSV (default: $BANKMARKETING_DATA)")
    model.add_argument("--json", action="store_true", help="print JSON")
    model.set_defaults(handler=_model)


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
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    endpoint = LocalEndpoint(
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
    )
    with endpoint:
        print(f"scoring URI: {endpoint.scoring_uri}")
        print(f"swagger URI: {endpoint.swagger_uri}")
        print(f"contract:    {endpoint.contract}")
        if args.primary_key is None:
            # Shown once, on the terminal only, so the user can copy it; it is never logged.
            print(f"primary key (generated, shown once): {endpoint.primary_key}")
        print("ready; Ctrl-C to stop", flush=True)
        while not stop.wait(0.5):
            if not all(child is not None and child.alive() for child in (endpoint.front, endpoint.container)):
                print("bankmarketing-client: error: a local endpoint process died; stopping", file=sys.stderr)
                return 1
    print("stopped")
    return 0


def _model(args: argparse.Namespace) -> int:
    from bankmarketing_client.local.model import report

    figures = report(args.data)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        width = max(len(k) for k in figures)
        for key, value in figures.items():
            print(f"{key:<{width}}  {value}")
    return 0
