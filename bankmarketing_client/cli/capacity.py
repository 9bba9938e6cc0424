"""``bankmarketing-client capacity``: the highest rate an endpoint holds within a p99 SLO, and what to deploy.

Runs Locust as a library in this process with the open-loop user of the ``loadtest/`` scenarios (Poisson
arrivals, latency from the scheduled send time), one step per rate; :mod:`bankmarketing_client.capacity`
decides the steps and the recommendation. Locust (the ``loadtest`` extra) is imported only when the command
runs, so the rest of the CLI stays light.

Exit codes: 0 a capacity was found; 2 a set-up error (one line); 6 the SLO is missed even at the lowest rate.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bankmarketing_client.cli import positive_int
from bankmarketing_client.cli.endpoint_options import add_endpoint_options, endpoint_options
from bankmarketing_client.cli.exits import EXIT_OK, EXIT_SLO_MISSED
from bankmarketing_client.errors import ConfigurationError

#: The scenarios folder beside the package in a checkout.
LOADTEST_DIR = Path(__file__).resolve().parents[2] / "loadtest"
#: A window is long enough for this many samples over the stability windows (the p99 sample-size rule).
P99_SAMPLES = 1000
#: The longest pause after a step for the endpoint to drain the requests still queued in it.
MAX_DRAIN_S = 5.0


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError("must be above 0")
    return value


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must lie between 0 and 1")
    return value


def _concurrency_list(text: str) -> list[int]:
    try:
        values = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of whole numbers like 1,2,4,8") from None
    if not values or values[0] < 1 or len(values) > 12:
        raise argparse.ArgumentTypeError("give 1 to 12 concurrencies of at least 1, like 1,2,4,8")
    return values


def register(subparsers: Any) -> None:
    from bankmarketing_client.capacity import DEFAULT_MAX_ERROR_RATIO, DEFAULT_UTILISATION

    parser = subparsers.add_parser(
        "capacity",
        help="find the highest rate within a p99 SLO with open-loop load, and size a deployment "
        "(needs the 'loadtest' extra)",
    )
    add_endpoint_options(parser)
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="folder for the reports")
    parser.add_argument("--slo-p99-ms", type=_positive_float, default=250.0, help="the p99 bound (default: 250)")
    parser.add_argument(
        "--max-error-ratio",
        type=_ratio,
        default=DEFAULT_MAX_ERROR_RATIO,
        help="failures, 429s and dropped arrivals allowed, as a share of arrivals (default: 0.001)",
    )
    parser.add_argument("--target-rps", type=_positive_float, help="size a deployment for this rate")
    parser.add_argument(
        "--utilisation",
        type=_ratio,
        default=DEFAULT_UTILISATION,
        help="how busy instances may be at the target (default: 0.7, Azure's sizing example)",
    )
    parser.add_argument("--batch-size", type=positive_int, help="records per request (default: the benchmark's 2)")
    parser.add_argument("--payload", help="a data.json to send (default: 2 records sampled from the dataset)")
    parser.add_argument(
        "--endpoint-settings",
        type=Path,
        help="settings saved by 'discover --settings-file': the URI unless given, and the measured deployment's "
        "instance_count and max_concurrent_requests_per_instance",
    )
    parser.add_argument(
        "--start-rps",
        type=_positive_float,
        default=100.0,
        help="first rate (default: 100; the search goes down to 1/8 of it if it breaches)",
    )
    parser.add_argument("--max-rps", type=_positive_float, default=5000.0, help="safety cap (default: 5000)")
    parser.add_argument(
        "--processes", type=positive_int, default=1, help="generator processes (default: 1; see docs/loadtest.md)"
    )
    parser.add_argument(
        "--concurrency",
        type=_concurrency_list,
        help="also sweep closed-loop concurrency (like 1,2,4,8,16) for the knee to propose as "
        "max_concurrent_requests_per_instance",
    )
    parser.add_argument("--warmup", type=_positive_float, default=1.0, help="seconds before each step's windows")
    parser.add_argument("--window", type=_positive_float, default=2.0, help="shortest measurement window, s")
    parser.add_argument(
        "--max-window",
        type=_positive_float,
        default=4.0,
        help="longest window, s: a window grows to hold 1000 / 3 samples (a p99's need over 3 windows) up to "
        "this (default: 4; each step reports its request count)",
    )
    parser.add_argument("--max-windows", type=positive_int, default=5, help="windows per step at most (default: 5)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the Poisson schedule and the records")
    parser.add_argument(
        "--max-outstanding", type=positive_int, default=1000, help="requests in flight at most (default: 1000)"
    )
    parser.add_argument(
        "--max-lag-ms",
        type=_positive_float,
        default=50.0,
        help="a step whose sends left later than this after their schedule (more than 1 %% of them) measured the "
        "generator, not the endpoint: the search stops there (default: 50)",
    )
    parser.set_defaults(handler=run)


@dataclass(frozen=True)
class Plan:
    scoring_uri: str
    api_key: str | None
    token_file: str | None
    contract: str
    deployment: str | None
    measured_instances: int | None
    max_concurrent: int | None


def _plan(args: argparse.Namespace) -> Plan:
    if args.max_rps < args.start_rps:
        raise ConfigurationError(f"--max-rps {args.max_rps:g} is below --start-rps {args.start_rps:g}")
    if args.max_window < args.window:
        raise ConfigurationError(f"--max-window {args.max_window:g} is below --window {args.window:g}")
    if args.utilisation <= 0:
        raise ConfigurationError("--utilisation must be above 0")
    if args.processes != 1:
        raise ConfigurationError("--processes above 1 is not supported by this version; run with --processes 1")
    if args.output.exists() and not args.output.is_dir():
        raise ConfigurationError(f"-o {args.output}: exists and is not a folder")
    if not (LOADTEST_DIR / "openloop.py").is_file():
        raise ConfigurationError(f"the load test scenarios are not at {LOADTEST_DIR} (capacity runs from a checkout)")
    options = endpoint_options(args)
    scoring_uri = options.scoring_uri or os.environ.get("BANKMARKETING_SCORING_URI")
    deployment = options.deployment or os.environ.get("BANKMARKETING_DEPLOYMENT") or None
    instances = concurrent = None
    if args.endpoint_settings is not None:
        from bankmarketing_client.settings_file import read_settings_file

        saved = read_settings_file(args.endpoint_settings).for_deployment(deployment)
        scoring_uri = scoring_uri or saved.scoring_uri
        deployment = deployment or saved.deployment
        if saved.deployment and saved.deployment in saved.deployments:
            measured = saved.deployments[saved.deployment]
            instances, concurrent = measured.instance_count, measured.max_concurrent_requests_per_instance
    if not scoring_uri:
        raise ConfigurationError("no endpoint: give --scoring-uri (or $BANKMARKETING_SCORING_URI)")
    api_key = options.api_key or (None if args.key_file else os.environ.get("BANKMARKETING_API_KEY"))
    token_file = str(args.key_file) if options.token_provider is not None else None
    return Plan(scoring_uri, api_key, token_file, args.contract, deployment, instances, concurrent)


def run(args: argparse.Namespace) -> int:
    from bankmarketing_client import capacity

    plan = _plan(args)
    driver = _Driver(args, plan)  # imports Locust; a bad endpoint, key file or payload stops here (exit 2)
    steps: list[capacity.Step] = []
    started = time.monotonic()
    while (rate := capacity.next_rate(steps, start_rps=args.start_rps, max_rps=args.max_rps)) is not None:
        step = driver.step(rate)
        steps.append(step)
        print(_progress(len(steps), step), file=sys.stderr, flush=True)
    knee = None
    points: list[tuple[int, float]] = []
    if args.concurrency:
        points = [(c, driver.closed_loop(c)) for c in args.concurrency]
        for c, rps in points:
            print(f"capacity: concurrency {c}: {rps:.1f} requests/s (closed loop)", file=sys.stderr, flush=True)
        knee = capacity.concurrency_knee(points)
    recommendation = capacity.recommend(
        steps,
        target_rps=args.target_rps,
        utilisation=args.utilisation,
        measured_instances=plan.measured_instances,
        max_concurrent_per_instance=plan.max_concurrent,
        concurrency_at_knee=knee,
    )
    data = capacity.report(
        steps,
        recommendation,
        slo_p99_ms=args.slo_p99_ms,
        max_error_ratio=args.max_error_ratio,
        extra={
            "arrival": "poisson",
            "wall_time_s": round(time.monotonic() - started, 1),
            "concurrency_sweep": [{"concurrency": c, "achieved_rps": rps} for c, rps in points] or None,
            "concurrency_at_knee": knee,
            "generator_fell_behind": any(s.generator_behind for s in steps),
        },
    )
    capacity.write_reports(args.output, data)
    found = data["capacity_rps"]
    if found is None:
        print(
            f"capacity: the SLO (p99 <= {args.slo_p99_ms:g} ms, errors <= {args.max_error_ratio:g}) is missed even "
            f"at {min(s.rate_rps for s in steps):g} requests/s; reports in {args.output}",
            file=sys.stderr,
        )
        return EXIT_SLO_MISSED
    assert recommendation is not None
    print(
        f"capacity: {found:.4g} requests/s within p99 <= {args.slo_p99_ms:g} ms; for {recommendation.target_rps:g} "
        f"requests/s: {recommendation.instance_count} instance(s), max_concurrent_requests_per_instance "
        f"{recommendation.max_concurrent_requests_per_instance} ({recommendation.basis['decided_by']} decided); "
        f"reports in {args.output}"
    )
    return EXIT_OK


def _progress(number: int, step: Any) -> str:
    verdict = "pass" if step.passed else "BREACH"
    if step.generator_behind:
        verdict += " (the generator fell behind its schedule: the search stays below this rate)"
    return (
        f"capacity: step {number}: {step.rate_rps:.1f} req/s -> achieved {step.achieved_rps:.1f}, p50 "
        f"{step.p50_ms:.1f} ms, p99 {step.p99_ms:.1f} ms, errors {step.error_ratio:.4f}, 429 {step.ratio_429:.4f}, "
        f"dropped {step.dropped}, {step.windows} windows{'' if step.stable else ' (not stable)'}: {verdict}"
    )


class _Driver:
    """Locust as a library: one environment and local runner for the open-loop steps, one for the sweep."""

    def __init__(self, args: argparse.Namespace, plan: Plan) -> None:
        sys.path.insert(0, str(LOADTEST_DIR))
        import _common
        import _openloop
        import _payloads
        import benchmark
        import openloop
        from locust import events
        from locust.argument_parser import parse_options
        from locust.env import Environment

        self.args, self.common, self.openloop_math = args, _common, _openloop
        self.user_class = openloop.OpenLoopUser
        argv = [
            "--headless", "--host", plan.scoring_uri, "--contract", plan.contract, "--arrival", "poisson",
            "--arrival-rate", "1", "--seed", str(args.seed), "--max-outstanding", str(args.max_outstanding),
            "--max-lag-ms", str(args.max_lag_ms),
        ]  # fmt: skip
        if args.batch_size:
            argv += ["--open-body", "batch", "--batch-size", str(args.batch_size)]
        if args.payload:
            argv += ["--payload", args.payload]
        if plan.deployment:
            argv += ["--deployment", plan.deployment]
        self.options = parse_options(args=argv)
        self.options.api_key = plan.api_key or ""  # set here, never on a command line
        self.options.token_file = plan.token_file or ""
        target = _payloads.resolve_target(None, plan.scoring_uri)
        self.environment = Environment(
            user_classes=[openloop.OpenLoopUser], events=events, parsed_options=self.options, host=target.origin
        )
        self.runner = self.environment.create_local_runner()
        prepared = _common.prepare(self.environment)  # BankMarketingError: one line, exit 2
        _common.STATE.prepared = prepared
        openloop.OpenLoopUser.host = benchmark.BenchmarkUser.host = prepared.target.origin
        self.environment.host = prepared.target.origin
        self.closed = Environment(
            user_classes=[benchmark.BenchmarkUser], events=events, parsed_options=self.options, host=target.origin
        )
        self.closed_runner = self.closed.create_local_runner()
        self.count_429 = 0
        request_hook: Any = events.request
        request_hook.add_listener(self._on_request)

    def _on_request(self, response: Any = None, **_: Any) -> None:
        if getattr(response, "status_code", None) == 429:
            self.count_429 += 1

    def step(self, rate: float) -> Any:
        import gevent

        from bankmarketing_client import capacity

        common, math_ = self.common, self.openloop_math
        args = self.args
        self.options.arrival_rate = rate
        common.STATE.budget = common.Budget()
        self.runner.start(1, spawn_rate=1)
        gevent.sleep(args.warmup)
        latencies = common.STATE.latencies
        window_s = min(max(args.window, P99_SAMPLES / (capacity.STABLE_WINDOWS * rate)), args.max_window)
        stats = self.runner.stats.total
        windows: list[capacity.Window] = []
        parts: list[tuple[Any, Any, int, int, int, int, float]] = []
        latencies.response, latencies.service = math_.Recorder(), math_.Recorder()
        before = self._counters(stats, latencies)
        for _ in range(args.max_windows):
            began = time.perf_counter()
            gevent.sleep(window_s)
            elapsed = time.perf_counter() - began
            response, service = latencies.response, latencies.service
            latencies.response, latencies.service = math_.Recorder(), math_.Recorder()
            now = self._counters(stats, latencies)
            requests, failures, count_429, dropped = (a - b for a, b in zip(now, before, strict=True))
            before = now
            histogram = response.histograms.get(math_.AGGREGATED)
            p99 = math_.percentile_ms(histogram, 99.0) if histogram is not None else 0.0
            windows.append(capacity.Window(requests / elapsed, p99))
            parts.append((response, service, requests, failures, count_429, dropped, elapsed))
            attempts = requests + dropped
            errors = (failures + dropped) / attempts if attempts else 1.0
            if p99 > 4 * args.slo_p99_ms or errors > max(0.05, 20 * args.max_error_ratio):
                break  # clearly breached: no need to wait for stability
            if capacity.stable(windows):
                break
        counts = latencies.open_loop
        behind = counts is not None and math_.GeneratorAccount.of([counts], max_lag_ms=args.max_lag_ms).fell_behind
        pacer = self.user_class._pacer
        outstanding = len(pacer._requests) if pacer is not None else 0
        self.runner.stop()
        result = _merge(rate, parts[-capacity.STABLE_WINDOWS :], windows, behind, args)
        # The endpoint still works through the requests it queued: let it drain (at the rate it was serving, for
        # at most MAX_DRAIN_S) before the next step, or that step measures this one's backlog.
        gevent.sleep(0.3 + min(MAX_DRAIN_S, outstanding / max(result.achieved_rps, 1.0)))
        return result

    def closed_loop(self, users: int) -> float:
        """Closed-loop throughput with ``users`` requests in flight (each user waits for its answer)."""
        import gevent

        self.common.STATE.budget = self.common.Budget()
        self.closed_runner.start(users, spawn_rate=users)
        gevent.sleep(self.args.warmup)
        stats = self.closed_runner.stats.total
        before, began = stats.num_requests, time.perf_counter()
        gevent.sleep(max(self.args.window, 2.0))
        achieved = (stats.num_requests - before) / (time.perf_counter() - began)
        self.closed_runner.stop()
        gevent.sleep(0.3)
        return float(achieved)

    def _counters(self, stats: Any, latencies: Any) -> tuple[int, int, int, int]:
        dropped = latencies.open_loop.dropped if latencies.open_loop is not None else 0
        return stats.num_requests, stats.num_failures, self.count_429, dropped


def _merge(rate: float, parts: list[Any], windows: list[Any], behind: bool, args: argparse.Namespace) -> Any:
    """One step's figures: its last (stable) windows together."""
    import _openloop

    from bankmarketing_client import capacity

    response, service = _openloop.Recorder(), _openloop.Recorder()
    requests = failures = count_429 = dropped = 0
    elapsed = 0.0
    for part_response, part_service, part_requests, part_failures, part_429, part_dropped, part_s in parts:
        response.add(part_response)
        service.add(part_service)
        requests += part_requests
        failures += part_failures
        count_429 += part_429
        dropped += part_dropped
        elapsed += part_s
    figures = response.summaries().get(_openloop.AGGREGATED, {})
    service_mean = float(service.summaries().get(_openloop.AGGREGATED, {}).get("mean_ms", 0.0))
    attempts = requests + dropped
    error_ratio = (failures + dropped) / attempts if attempts else 1.0
    p99 = float(figures.get("p99_ms", math.inf))
    return capacity.Step(
        rate_rps=rate,
        achieved_rps=requests / elapsed if elapsed else 0.0,
        p50_ms=float(figures.get("p50_ms", math.inf)),
        p95_ms=float(figures.get("p95_ms", math.inf)),
        p99_ms=p99,
        p999_ms=float(figures.get("p999_ms", math.inf)),
        error_ratio=error_ratio,
        ratio_429=count_429 / attempts if attempts else 0.0,
        dropped=dropped,
        passed=not behind
        and capacity.passes(p99, error_ratio, slo_p99_ms=args.slo_p99_ms, max_error_ratio=args.max_error_ratio),
        requests=requests,
        service_mean_ms=service_mean,
        windows=len(windows),
        stable=capacity.stable(windows),
        generator_behind=behind,
    )
