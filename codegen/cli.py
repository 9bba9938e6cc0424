"""``python -m codegen``: generate a typed client from a swagger, and keep the project's own client current.

python -m codegen --spec PATH_OR_URL --output DIR [--api-key-env VAR] [--no-feature-overlay]
python -m codegen project            regenerate bankmarketing_client/_generated from codegen/specs
python -m codegen check              fail when the committed generated code is out of date
python -m codegen snapshot [--url URL]  refresh codegen/specs from the local endpoint (or a live one)
python -m codegen overlay [--data CSV]  re-derive codegen/specs/features-overlay.json from the data
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bankmarketing_client.errors import BankMarketingError
from codegen.errors import CodegenError

COMMANDS = ("project", "check", "snapshot", "overlay")


def _generate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m codegen",
        description="Generate a typed client package from an Azure ML swagger (file or live endpoint). "
        f"Other commands: {', '.join(COMMANDS)} (python -m codegen COMMAND --help).",
    )
    parser.add_argument("--spec", required=True, help="a swagger/OpenAPI file, or an endpoint URL")
    parser.add_argument("--output", required=True, type=Path, help="the package folder to (re)create")
    parser.add_argument("--api-key-env", help="environment variable holding the endpoint key, if it needs one")
    parser.add_argument(
        "--no-feature-overlay",
        action="store_true",
        help="do not add the bank-marketing categories and bounds (they apply only to that record anyway)",
    )
    return parser


def _run_generate(argv: Sequence[str]) -> int:
    from codegen.generate import generate_package, prepare
    from codegen.project import load_feature_overlay
    from codegen.source import load

    args = _generate_parser().parse_args(argv)
    started = time.perf_counter()
    raw = load(args.spec, api_key_env=args.api_key_env)
    features = None if args.no_feature_overlay else load_feature_overlay()
    out = generate_package(prepare(raw, features), args.output, source=f"``{args.spec}``")
    print(f"generated {out} in {time.perf_counter() - started:.1f} s")
    return 0


def _run_project(argv: Sequence[str]) -> int:
    from codegen.project import generate_all

    argparse.ArgumentParser(prog="python -m codegen project").parse_args(argv)
    started = time.perf_counter()
    for out in generate_all():
        print(f"generated {out}")
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


def _run_check(argv: Sequence[str]) -> int:
    from codegen.project import check, dump_check_report

    argparse.ArgumentParser(prog="python -m codegen check").parse_args(argv)
    problems = check()
    print(dump_check_report(problems), file=sys.stderr if problems else sys.stdout)
    return 1 if problems else 0


def _run_snapshot(argv: Sequence[str]) -> int:
    from codegen.project import families
    from codegen.snapshot import snapshot_endpoint, snapshot_local

    parser = argparse.ArgumentParser(prog="python -m codegen snapshot")
    parser.add_argument("--url", help="snapshot this live endpoint instead of starting the local one")
    parser.add_argument(
        "--contract",
        choices=families(),
        help="with --url: which family it serves; without: snapshot only this family's local endpoint",
    )
    parser.add_argument("--api-key-env", help="with --url: environment variable holding the key")
    args = parser.parse_args(argv)
    if args.url:
        if not args.contract:
            parser.error("--url needs --contract")
        written = snapshot_endpoint(args.url, args.contract, api_key_env=args.api_key_env)
    else:
        written = snapshot_local([args.contract] if args.contract else None)
    for path in written:
        print(f"wrote {path}")
    return 0


def _run_overlay(argv: Sequence[str]) -> int:
    from codegen.domain import derive_domain
    from codegen.overlay import feature_overlay
    from codegen.project import FEATURE_OVERLAY, write_json

    parser = argparse.ArgumentParser(prog="python -m codegen overlay")
    parser.add_argument("--data", type=Path, help="training CSV (default: $BANKMARKETING_DATA)")
    args = parser.parse_args(argv)
    domain = derive_domain(args.data)
    write_json(FEATURE_OVERLAY, feature_overlay(domain, "bankmarketing_train.csv"))
    print(f"wrote {FEATURE_OVERLAY} from {domain.rows} rows")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch; user mistakes are one clean line on stderr and exit status 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    handlers = {
        "project": _run_project,
        "check": _run_check,
        "snapshot": _run_snapshot,
        "overlay": _run_overlay,
    }
    try:
        if args and args[0] in handlers:
            return handlers[args[0]](args[1:])
        return _run_generate(args)
    except (CodegenError, BankMarketingError) as exc:
        print(f"codegen: error: {exc}", file=sys.stderr)
        return 2
