"""Locust glue shared by every scenario: options, prepared payloads, the request budget and the SLO gate.

Imported by the scenario files as a top-level module (``import _common``), so its listeners are registered
once per process.

Deployments: ``--deployment NAME`` sends every request to one deployment (``azureml-model-deployment``);
``--per-deployment`` files each answer under its request name suffixed with the deployment that served it
(``/score [batch] @green``, from the same response header), so a blue/green split shows both sides' latency and
failures as rows of one report. Only the name changes: totals, the budget and the SLO gate are as before.

Keys and tokens go to an ``https://`` target, or ``http://`` on loopback; any other ``http://`` target stops the
run at set-up unless ``--allow-insecure-http`` (the client's rule and opt-out).

``aml_token`` endpoints: ``--token-file PATH`` instead of a key (the file ``local serve --token-file`` keeps, or
``get_keys``' answer saved as JSON). The client's own token cache (:class:`~bankmarketing_client.auth.TokenAuth`)
renews it at the issuer's refresh-after time by reading the file again, and once after a 401 (the refused request
stays a failure: a load test does not hide it by retrying).

``--endpoint-settings FILE`` (``discover --endpoint NAME --settings-file FILE``) starts from Azure's own settings:
the scoring URI and deployment unless given, and the pending limit as the user count unless ``-u`` is given (a
larger ``-u`` is logged as a warning: Azure answers 429 beyond the limit).

Roles in a distributed run:

* the master (or the only process) resolves the target and the contract, checks the payload before any user
  starts, shares ``--max-requests`` among the workers and applies the SLO gate to the aggregated stats;
* workers receive the master's options with their spawn order, build the same payloads (same seed) and stop
  sending once their share of the budget is spent. Workers never gate: their own stats are partial.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from _openloop import (
    AGGREGATED,
    DEFAULT_MAX_LAG_MS,
    SIGNIFICANT_DIGITS,
    GeneratorAccount,
    OpenLoopCounts,
    Recorder,
    Schedule,
    compare,
    deployment_of,
    percentile_ms,
)
from _payloads import (
    BENCHMARK_RECORDS,
    EXIT_SETUP_ERROR,
    LATENCY_GATES,
    Body,
    Verdict,
    build_batches,
    build_body,
    combine_verdicts,
    detect_family,
    evaluate_slo,
    judge_health,
    judge_score,
    judge_swagger,
    load_payload_file,
    resolve_target,
    sample_records,
    split_budget,
)
from locust import FastHttpUser, events
from locust.argument_parser import LocustArgumentParser
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner
from locust.stats import CSV_STATS_INTERVAL_SEC

from bankmarketing_client.auth import Secret, TokenAuth, check_credential_url, token_file_provider
from bankmarketing_client.client import DEPLOYMENT_HEADER, DEPLOYMENT_NAME_RULE, check_deployment
from bankmarketing_client.contract import Contract
from bankmarketing_client.contracts import names as contract_names
from bankmarketing_client.errors import BankMarketingError
from bankmarketing_client.limits import checked_pending_limit
from bankmarketing_client.settings_file import read_settings_file
from bankmarketing_client.urls import EndpointURLs

log = logging.getLogger("bankmarketing.loadtest")

BUDGET_MESSAGE = "bankmarketing_budget"
SHARE_MESSAGE = "bankmarketing_share"
REPORT_KEY = "bankmarketing_latency"
#: Records in each of the mix's small batches.
MIX_SMALL_BATCH = 5


def _add_options(parser: LocustArgumentParser) -> None:
    # On the parser itself, not a group: only LocustArgumentParser.add_argument knows is_secret.
    parser.add_argument(
        "--scoring-uri",
        default=None,
        env_var="BANKMARKETING_SCORING_URI",
        help="Full scoring URI (http://HOST/score); an alternative to --host, which may also be a full URI",
    )
    parser.add_argument(
        "--api-key",
        default="",
        env_var="BANKMARKETING_API_KEY",
        is_secret=True,
        # Kept out of the web UI: a secret field is masked, but Locust still embeds its value in the page.
        include_in_web_ui=False,
        help="Endpoint key, sent as 'Authorization: Bearer KEY' (also $BANKMARKETING_API_KEY; never printed)",
    )
    parser.add_argument(
        "--token-file",
        default="",
        help="For aml_token endpoints, instead of a key: a token answer as JSON (local serve --token-file keeps "
        "one), read again at each renewal",
    )
    parser.add_argument(
        "--contract",
        choices=["auto", *contract_names()],
        default="auto",
        help="Request contract family; auto reads the endpoint's swagger (inputs if ServiceInput has Inputs)",
    )
    parser.add_argument(
        "--method",
        choices=["predict", "predict_proba"],
        default="predict",
        help="Scoring method (where the endpoint offers probabilities)",
    )
    parser.add_argument("--batch-size", type=int, default=100, help="Records per request in the batch scenario")
    parser.add_argument(
        "--payload",
        default="",
        help="A data.json like the original benchmark's; default: 2 records sampled from the dataset",
    )
    parser.add_argument("--dataset", default="", help="Dataset CSV to sample from (default: $BANKMARKETING_DATA)")
    parser.add_argument("--seed", type=int, default=42, help="Seed for sampling records (same seed, same bodies)")
    parser.add_argument("--pool-size", type=int, default=32, help="Distinct prepared batches to cycle through")
    parser.add_argument(
        "--max-requests",
        type=int,
        default=0,
        help="Stop after this many requests in total, like ab -n (0: no limit; shared among workers)",
    )
    parser.add_argument(
        "--slo-p95-ms", type=float, default=None, help="Fail the run (exit 4) if the overall p95 exceeds this"
    )
    parser.add_argument(
        "--slo-p99-ms", type=float, default=None, help="Fail the run (exit 4) if the overall p99 exceeds this"
    )
    parser.add_argument(
        "--slo-p999-ms", type=float, default=None, help="Fail the run (exit 4) if the overall p99.9 exceeds this"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=0.0,
        help="Seconds at the start whose requests the gates and --latency-report leave out (Locust's own stats "
        "keep them); open loop: by scheduled time",
    )
    parser.add_argument(
        "--latency-report",
        default="",
        help="Write the measured window's percentiles (HdrHistogram, 3 significant digits) as JSON to this file: "
        "response and service time by name and deployment, the open loop's counts, the gates' verdict",
    )
    parser.add_argument(
        "--arrival-rate",
        type=float,
        default=None,
        help="OpenLoopUser: requests/s of the whole run, sent on schedule whatever the answers do; shared "
        "exactly among workers; -u does not change it",
    )
    parser.add_argument(
        "--arrival",
        choices=["constant", "poisson"],
        default="constant",
        help="OpenLoopUser: evenly spaced arrivals, or a Poisson process (seeded by --seed)",
    )
    parser.add_argument(
        "--open-body",
        choices=["benchmark", "batch"],
        default="benchmark",
        help="OpenLoopUser: the benchmark's body (--payload or 2 sampled records), or --batch-size records",
    )
    parser.add_argument(
        "--max-outstanding",
        type=int,
        default=1000,
        help="OpenLoopUser: requests in flight per process at most; an arrival beyond it is dropped and counted",
    )
    parser.add_argument(
        "--max-lag-ms",
        type=float,
        default=DEFAULT_MAX_LAG_MS,
        help="OpenLoopUser: the generator fell behind (exit 7, no gate passes) when more than 1%% of sends left "
        "later than this after their scheduled time",
    )
    parser.add_argument(
        "--slo-fail-ratio",
        type=float,
        default=None,
        help="Fail the run (exit 3) if the failure ratio exceeds this (0..1; open loop: dropped arrivals count as "
        "failures); within it, failures exit 0",
    )
    parser.add_argument(
        "--deployment",
        default="",
        env_var="BANKMARKETING_DEPLOYMENT",
        help="Send every request to this deployment (azureml-model-deployment header), whatever the traffic split",
    )
    parser.add_argument(
        "--per-deployment",
        action="store_true",
        default=False,
        help="Split the stats by the deployment that served each answer: request names get '@NAME' "
        "(from the azureml-model-deployment response header)",
    )
    parser.add_argument(
        "--endpoint-settings",
        default="",
        help="Settings written by 'bankmarketing-client discover --endpoint NAME --settings-file FILE': the scoring "
        "URI and deployment (unless given), and the pending limit as the default user count (-u) and a cap "
        "the run warns about",
    )
    parser.add_argument(
        "--allow-insecure-http",
        action="store_true",
        default=False,
        help="Send the key or token to an http:// target that is not loopback (refused otherwise, before any user "
        "starts: anyone on the path could read it); only for a private network you trust",
    )
    parser.add_argument(
        "--show-responses",
        action="store_true",
        default=False,
        help="Log every scoring answer's status, headers and body (like ab -v 4; keys are never logged)",
    )


# -- per-process state ---------------------------------------------------------------------------------------


@dataclass
class Prepared:
    """What every user of this process sends, built once."""

    target: EndpointURLs
    family: str
    proba: bool
    headers: dict[str, str]
    benchmark: Body
    batches: list[Body]
    singles: list[Body]
    small_batches: list[Body]
    show_responses: bool = False
    per_deployment: bool = False
    token: TokenAuth | None = None

    def scoring_headers(self) -> tuple[dict[str, str], Secret | None]:
        """The headers of one scoring request, and the token it carries (None with a key, or no auth)."""
        if self.token is None:
            return self.headers, None
        sent = self.token.current()
        return {**self.headers, "Authorization": f"Bearer {sent.reveal()}"}, sent

    def refused(self, sent: Secret | None) -> None:
        """A 401 to a request that carried ``sent``: fetch a new token, once, unless another request already did."""
        if self.token is not None and sent is not None and self.token.current() is sent:
            self.token.current(force=True)


@dataclass
class Budget:
    """``--max-requests``: requests are taken before they are sent and counted when they end."""

    limit: int | None = None
    taken: int = 0
    done: int = 0
    quitting: bool = False

    def take(self) -> bool:
        if self.limit is not None and self.taken >= self.limit:
            return False
        self.taken += 1
        return True


@dataclass
class Latencies:
    """The measured window's histograms in this process (on the master: the workers' latest reports too)."""

    response: Recorder = field(default_factory=Recorder)
    service: Recorder = field(default_factory=Recorder)
    open_loop: OpenLoopCounts | None = None
    #: perf_counter time from which requests are measured (the end of --warmup); None before the run starts.
    measure_from: float | None = None
    #: On the master: each worker's latest report.
    from_workers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def measured(self, at: float) -> bool:
        return self.measure_from is not None and at >= self.measure_from

    def to_message(self) -> dict[str, Any]:
        return {
            "response": self.response.encode(),
            "service": self.service.encode(),
            "open_loop": None if self.open_loop is None else self.open_loop.to_message(),
        }

    def combined(self) -> tuple[Recorder, Recorder, list[OpenLoopCounts]]:
        """Response and service histograms and the open loop's counts over this process and its workers."""
        parts = [self.to_message(), *self.from_workers.values()]
        response = Recorder.merged(part["response"] for part in parts)
        service = Recorder.merged(part["service"] for part in parts)
        counts = [OpenLoopCounts.from_message(part["open_loop"]) for part in parts if part.get("open_loop")]
        return response, service, counts

    def dropped(self) -> int:
        """Arrivals dropped at --max-outstanding, over this process and its workers' latest reports."""
        own = 0 if self.open_loop is None else self.open_loop.dropped
        return own + sum(int((part.get("open_loop") or {}).get("dropped", 0)) for part in self.from_workers.values())


@dataclass
class State:
    prepared: Prepared | None = None
    budget: Budget = field(default_factory=Budget)
    latencies: Latencies = field(default_factory=Latencies)
    #: This process's place among the workers: (index, count); (0, 1) without workers.
    share: tuple[int, int] | None = None


STATE = State()
_runner: Any = None


def _options(environment: Environment) -> Any:
    return environment.parsed_options


def _is_worker(environment: Environment) -> bool:
    return isinstance(environment.runner, WorkerRunner)


def prepare(environment: Environment) -> Prepared:
    """Resolve target and contract, and build every body. Raises BankMarketingError with a clear message."""
    options = _options(environment)
    target = resolve_target(environment.host, options.scoring_uri)
    if options.api_key and options.token_file:
        raise BankMarketingError("give either --api-key ($BANKMARKETING_API_KEY) or --token-file, not both")
    if options.api_key or options.token_file:  # the client's rule, before any request, token or user
        check_credential_url(target.scoring_url, allow_insecure_http=options.allow_insecure_http)
    deployment = options.deployment or None
    contract = (
        detect_family(target, deployment=deployment) if options.contract == "auto" else Contract.of(options.contract)
    )
    family = contract.family
    if contract == Contract.of(family):  # the name says it all: it travels to the workers with the spawn message
        options.contract = family
    if options.method == "predict_proba" and not contract.supports_proba:
        raise BankMarketingError(f"--method predict_proba: this {family!r} endpoint offers no probabilities")
    dataset = options.dataset or None
    seed = options.seed
    pool_size = max(1, options.pool_size)
    batch_size = options.batch_size  # build_batches refuses one below 1
    pool = sample_records(max(batch_size, pool_size * MIX_SMALL_BATCH, BENCHMARK_RECORDS), seed=seed, dataset=dataset)
    benchmark_records = load_payload_file(options.payload) if options.payload else pool[:BENCHMARK_RECORDS]
    method = options.method
    headers = {"Content-Type": "application/json"}
    if options.api_key:
        headers["Authorization"] = f"Bearer {options.api_key}"
    token = TokenAuth(token_file_provider(options.token_file)) if options.token_file else None
    if token is not None:
        token.current()  # a missing or unusable file stops the run now, with its name, before any user starts
    if options.deployment:
        headers[DEPLOYMENT_HEADER] = check_deployment(options.deployment)  # BankMarketingError naming it
    return Prepared(
        target=target,
        family=family,
        proba=method == "predict_proba",
        headers=headers,
        benchmark=build_body(benchmark_records, contract, method),
        batches=build_batches(pool, batch_size, pool_size, seed=seed, family=contract, method=method),
        singles=[build_body([record], contract, method) for record in pool[:pool_size]],
        small_batches=build_batches(pool, MIX_SMALL_BATCH, pool_size, seed=seed + 1, family=contract, method=method),
        show_responses=options.show_responses,
        per_deployment=options.per_deployment,
        token=token,
    )


def _fail_setup(environment: Environment, exc: BaseException) -> None:
    log.error("load test set-up failed: %s", exc)
    environment.process_exit_code = EXIT_SETUP_ERROR
    if environment.runner is not None:
        gevent.spawn(environment.runner.quit)


def _on_init(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message(BUDGET_MESSAGE, _on_budget_message)
        runner.register_message(SHARE_MESSAGE, _on_share_message)
        return
    options = _options(environment)
    if options is None:
        return
    _keep_tagged_user_classes(environment)
    problem = _open_loop_problem(environment)
    if problem:
        log.error("load test set-up failed: %s", problem)
        sys.exit(EXIT_SETUP_ERROR)
    if options.endpoint_settings:
        try:
            _apply_endpoint_settings(environment)
        except BankMarketingError as exc:
            log.error("load test set-up failed: %s", exc)
            sys.exit(EXIT_SETUP_ERROR)
    if options.scoring_uri or environment.host:
        try:
            target = resolve_target(environment.host, options.scoring_uri)
            environment.host = target.origin  # Locust joins host and path; the path comes from the target
            options.host = target.origin
            options.scoring_uri = target.scoring_url
            STATE.prepared = prepare(environment)  # fail before any user starts, with one clear line
        except BankMarketingError as exc:
            log.error("load test set-up failed: %s", exc)
            sys.exit(EXIT_SETUP_ERROR)


def _apply_endpoint_settings(environment: Environment) -> None:
    """``--endpoint-settings``: the discovered URI and deployment unless given, and Azure's pending limit as the
    user count unless ``-u`` is given (one user keeps at most one request in flight). On the master (or the only
    process): the options it completes travel to the workers with the spawn message."""
    options = _options(environment)
    saved = read_settings_file(Path(options.endpoint_settings)).for_deployment(options.deployment or None)
    if not options.scoring_uri and not environment.host:
        options.scoring_uri = saved.scoring_uri
    options.deployment = saved.deployment or ""
    limit = checked_pending_limit(saved)  # a hand-edited file asking for more than one client can use is clamped
    if options.num_users is None:
        options.num_users = limit
        log.info("%d users: the pending limit of endpoint %r (--endpoint-settings)", limit, saved.endpoint)
    elif options.num_users > limit:
        log.warning(
            "%d users exceed endpoint %r's pending limit of %d: Azure answers 429 to requests beyond it",
            options.num_users,
            saved.endpoint,
            limit,
        )


def _open_loop_problem(environment: Environment) -> str | None:
    """The open loop's options checked before any user starts. Without ``--arrival-rate`` the open-loop user
    leaves a run of several classes (``locust -f loadtest`` starts them all) and is an error on its own."""
    options = _options(environment)
    if options.warmup < 0:
        return f"--warmup must be 0 or more seconds, not {options.warmup:g}"
    open_loop = [c for c in environment.user_classes if getattr(c, "open_loop", False)]
    if not open_loop:
        return None
    if options.arrival_rate is None:
        if len(open_loop) < len(environment.user_classes):
            environment.user_classes = [c for c in environment.user_classes if c not in open_loop]
            return None
        return "OpenLoopUser needs --arrival-rate R (requests/s of the whole run)"
    if options.max_outstanding < 1:
        return f"--max-outstanding must be at least 1, not {options.max_outstanding}"
    if not options.max_lag_ms > 0:
        return f"--max-lag-ms must be above 0, not {options.max_lag_ms}"
    try:
        Schedule(rate=options.arrival_rate, arrival=options.arrival, seed=options.seed)
    except ValueError as exc:
        return str(exc)
    return None


def _task_tags(user_class: Any) -> list[set[str]]:
    return [set(getattr(task, "locust_tag_set", ())) for task in getattr(user_class, "tasks", ())]


def _keep_tagged_user_classes(environment: Environment) -> None:
    """With ``-T``/``-E``, run only the user classes that keep a task: Locust would start the others too,
    and each would die with "No tasks defined". Done on the master (or the only process), which dispatches."""
    options = _options(environment)
    include = set(getattr(options, "tags", None) or ())
    exclude = set(getattr(options, "exclude_tags", None) or ())
    if not include and not exclude:
        return

    def keeps_a_task(user_class: Any) -> bool:
        return any((not include or tags & include) and not tags & exclude for tags in _task_tags(user_class))

    kept = [user_class for user_class in environment.user_classes if keeps_a_task(user_class)]
    if kept and len(kept) < len(environment.user_classes):
        environment.user_classes = kept


def _on_budget_message(environment: Environment, msg: Any, **_: Any) -> None:
    STATE.budget = Budget(limit=int(msg.data["share"]))


def _on_share_message(environment: Environment, msg: Any, **_: Any) -> None:
    STATE.share = (int(msg.data["index"]), int(msg.data["workers"]))


def _on_test_start(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    options = _options(environment)
    STATE.latencies = Latencies(measure_from=time.perf_counter() + max(0.0, float(options.warmup or 0.0)))
    if not isinstance(runner, (MasterRunner, WorkerRunner)):
        STATE.share = (0, 1)
    if isinstance(runner, MasterRunner):
        workers = runner.clients.ready + runner.clients.running + runner.clients.spawning
        for index, worker in enumerate(workers):
            runner.send_message(SHARE_MESSAGE, {"index": index, "workers": len(workers)}, client_id=worker.id)
        if options.max_requests > 0:
            for worker, share in zip(workers, split_budget(options.max_requests, len(workers)), strict=True):
                runner.send_message(BUDGET_MESSAGE, {"share": share}, client_id=worker.id)
            STATE.budget = Budget(limit=options.max_requests)
        return
    if not _is_worker(environment) and options.max_requests > 0:
        STATE.budget = Budget(limit=options.max_requests)  # a fresh budget for each run started from the UI
    try:
        stale = STATE.prepared is not None and environment.host not in (None, STATE.prepared.target.origin)
        if STATE.prepared is None or stale or _is_worker(environment):
            STATE.prepared = prepare(environment)  # workers build their own; a new host from the UI re-prepares
        if not _is_worker(environment):
            # A host typed into the web UI may be a full scoring URI: Locust must get the bare origin.
            environment.host = STATE.prepared.target.origin
            for user_class in environment.user_classes:
                user_class.host = environment.host
    except BankMarketingError as exc:
        _fail_setup(environment, exc)


def _on_request(name: str, response_time: float, context: Any = None, **_: Any) -> None:
    latencies = STATE.latencies
    scheduled = context.get("scheduled") if isinstance(context, dict) else None
    if latencies.measured(scheduled if scheduled is not None else time.perf_counter()):
        latencies.response.record(name, response_time, deployment_of(name))
    count_done()


def count_done() -> None:
    """One request of the budget ended (answered, failed, or an open-loop arrival dropped)."""
    budget = STATE.budget
    budget.done += 1
    if budget.limit is not None and budget.done >= budget.limit and not budget.quitting:
        runner = _runner
        if runner is not None and not isinstance(runner, WorkerRunner):
            budget.quitting = True
            log.info("--max-requests %d reached; stopping", budget.limit)
            gevent.spawn(runner.quit)


def _report_to_master(data: dict[str, Any], **_: Any) -> None:
    """On a worker: the histograms so far travel with each stats report (cumulative: the master keeps the latest)."""
    data[REPORT_KEY] = STATE.latencies.to_message()


def _on_worker_report(client_id: str = "", data: Any = None, **_: Any) -> None:
    """On the master: keep each worker's histograms; stop once the workers report the whole budget done."""
    if isinstance(data, dict) and REPORT_KEY in data:
        STATE.latencies.from_workers[client_id] = data[REPORT_KEY]
    runner = _runner
    budget = STATE.budget
    if runner is None or budget.limit is None or budget.quitting:
        return
    if runner.stats.total.num_requests + STATE.latencies.dropped() >= budget.limit:
        budget.quitting = True
        log.info("--max-requests %d reached across the workers; stopping", budget.limit)
        gevent.spawn(runner.quit)


def _remember_runner(environment: Environment, **_: Any) -> None:
    global _runner
    _runner = environment.runner


def _slo_gate(environment: Environment, **_: Any) -> None:
    """The SLO gates: on the master or the only process, over the measured window of every process's requests
    (HdrHistograms), for the totals and, with ``--per-deployment``, for each deployment."""
    if _is_worker(environment) or environment.parsed_options is None:
        return
    options = _options(environment)
    if environment.process_exit_code == EXIT_SETUP_ERROR:
        return
    response, service, counts = STATE.latencies.combined()
    account = GeneratorAccount.of(counts, max_lag_ms=options.max_lag_ms) if counts else None
    if account is not None:
        (log.error if account.fell_behind else log.info)(account.line())
    verdicts = [_verdict(environment, response, account, None)]
    if options.per_deployment:
        deployments = sorted(name for name in response.histograms if name.startswith("@"))
        verdicts += [_verdict(environment, response, None, name) for name in deployments]
    verdict = combine_verdicts(
        verdicts,
        fell_behind=account is not None and account.fell_behind,
        behind_line=account.line() if account is not None else "",
    )
    for line in verdict.lines:
        (log.error if "BREACHED" in line or "no requests" in line or "not enough" in line or "no gate" in line
         else log.info)(line)  # fmt: skip
    if verdict.exit_code is not None:
        environment.process_exit_code = verdict.exit_code
    comparison = _compare_deployments(response) if options.per_deployment else None
    if options.latency_report:
        _write_latency_report(Path(options.latency_report), response, service, account, verdict, comparison)


def _compare_deployments(response: Recorder) -> dict[str, Any] | None:
    """With exactly two deployments in the measured window: the second (by name) against the first, with a
    confidence interval (see :func:`_openloop.compare`), logged in one line."""
    names = sorted(name for name in response.histograms if name.startswith("@"))
    if len(names) != 2:
        return None
    a, b = names
    result = compare(a[1:], response.histograms[a], b[1:], response.histograms[b])
    if "median_difference_ms" in result:
        low, high = result["median_difference_ci_ms"]
        log.info(
            "%s vs %s: median %+.3g ms (%.0f%% CI %+.3g to %+.3g ms; n = %d and %d; Mann-Whitney p = %.2g): %s",
            b[1:], a[1:], result["median_difference_ms"], 100 * result["confidence"], low, high,
            result["n_b"], result["n_a"], result["mann_whitney_p"], result["verdict"],
        )  # fmt: skip
    return result


def _verdict(
    environment: Environment, response: Recorder, account: GeneratorAccount | None, deployment: str | None
) -> Verdict:
    """One scope's verdict. Failures come from Locust's stats (the whole run), latency from the measured window.
    Open loop: dropped arrivals count as failed requests in the failure ratio."""
    options = _options(environment)
    key = deployment or AGGREGATED
    histogram = response.histograms.get(key)
    if deployment is None:
        requests, failures = environment.stats.total.num_requests, environment.stats.total.num_failures
    else:
        rows = [row for (name, _), row in environment.stats.entries.items() if name.endswith(f" {deployment}")]
        requests, failures = sum(r.num_requests for r in rows), sum(r.num_failures for r in rows)
    dropped = account.dropped if account is not None else 0
    attempts = requests + dropped
    slo_ms = {95.0: options.slo_p95_ms, 99.0: options.slo_p99_ms, 99.9: options.slo_p999_ms}
    latency = {q: percentile_ms(histogram, q) if histogram is not None else 0.0 for _, q in LATENCY_GATES}
    return evaluate_slo(
        num_requests=attempts,
        fail_ratio=(failures + dropped) / attempts if attempts else 0.0,
        latency_ms=latency,
        slo_ms=slo_ms,
        slo_fail_ratio=options.slo_fail_ratio,
        samples=response.count(key),
        scope=f"deployment {deployment[1:]}" if deployment else "",
    )


def _write_latency_report(
    path: Path,
    response: Recorder,
    service: Recorder,
    account: GeneratorAccount | None,
    verdict: Verdict,
    comparison: dict[str, Any] | None,
) -> None:
    """``--latency-report``: the measured window as JSON. Names and figures only: no header, no key."""
    report: dict[str, Any] = {
        "precision": f"HdrHistogram, {SIGNIFICANT_DIGITS} significant digits",
        "response_time": response.summaries(),
        "service_time": service.summaries(),
        "open_loop": None
        if account is None
        else {
            "scheduled": account.scheduled,
            "sent": account.sent,
            "dropped": account.dropped,
            "send_lag_p99_ms": account.lag_p99_ms,
            "late_share": account.late_share,
            "fell_behind": account.fell_behind,
            "sent_by_worker": {str(k): v for k, v in account.by_worker.items()},
        },
        "comparison": comparison,
        "gates": list(verdict.lines),
        "exit_code": verdict.exit_code,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n")
    except OSError as exc:
        log.error("could not write --latency-report %s: %s", path, exc.strerror or exc)


def _settle_csv_reports(environment: Environment, **_: Any) -> None:
    """Let Locust's CSV writer (which rewrites the files once a second) capture the final totals.

    Without this pause a run that ends within a second of its last request (``--max-requests``, a shape,
    ``-t``) leaves CSV files that lag behind the printed summary and the HTML report.
    """
    options = _options(environment)
    if options is not None and getattr(options, "csv_prefix", None) and not _is_worker(environment):
        gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.25)


# -- the user base class -------------------------------------------------------------------------------------


class EndpointUser(FastHttpUser):
    """Base of every scenario: sends prepared bodies and judges each answer (a bad 200 is a failure)."""

    abstract = True

    def _ready(self) -> Prepared | None:
        """The prepared payloads, or None (after a short pause) when the budget is spent or set-up failed."""
        prepared = STATE.prepared
        if prepared is None or not STATE.budget.take():
            gevent.sleep(0.1)
            return None
        return prepared

    def score(self, pick: Callable[[Prepared], Body], name: str) -> None:
        """POST the body ``pick`` chooses from the prepared ones, and judge the answer."""
        prepared = self._ready()
        if prepared is None:
            return
        self.post_score(prepared, pick(prepared), name)

    def post_score(
        self, prepared: Prepared, body: Body, name: str, *, on_answer: Callable[[Any], None] | None = None
    ) -> None:
        """POST one prepared body and judge the answer; ``on_answer`` sees the response before Locust reports
        it (the open loop corrects its response time there)."""
        headers, sent = prepared.scoring_headers()
        with self.client.post(
            prepared.target.scoring_path,
            data=body.data,  # type: ignore[arg-type]  # bytes are sent as they are; the hint is narrower
            headers=headers,
            name=name,
            catch_response=True,
        ) as response:
            if prepared.show_responses:
                log.info(
                    "HTTP %s %s\n%s\n\n%s",
                    response.status_code,
                    name,
                    "\n".join(f"{k}: {v}" for k, v in (response.headers or {}).items()),
                    (response.content or b"")[:2000].decode("utf-8", "replace"),
                )
            _file_under_deployment(response, prepared)
            if response.status_code == 401:
                prepared.refused(sent)
            reason = judge_score(response.status_code, response.content, body.records, proba=prepared.proba)
            if reason is None:
                response.success()
            else:
                response.failure(reason)
            if on_answer is not None:
                on_answer(response)

    def probe(self, name: str, judge: Callable[[int, bytes | None], str | None], route: str) -> None:
        """GET ``route`` beside the scoring route (no key, as in Azure) and judge the answer."""
        prepared = self._ready()
        if prepared is None:
            return
        with self.client.get(
            prepared.target.base_path + route, name=name, headers=_probe_headers(prepared), catch_response=True
        ) as response:
            _file_under_deployment(response, prepared)
            reason = judge(response.status_code, response.content)
            response.success() if reason is None else response.failure(reason)

    def health(self) -> None:
        self.probe("/ (health)", judge_health, "")

    def swagger(self) -> None:
        self.probe("/swagger.json", judge_swagger, "swagger.json")


def _probe_headers(prepared: Prepared) -> dict[str, str] | None:
    """A probe carries no key (as in Azure) but asks the same deployment as the scoring requests, if one."""
    picked = prepared.headers.get(DEPLOYMENT_HEADER)
    return {DEPLOYMENT_HEADER: picked} if picked else None


def _file_under_deployment(response: Any, prepared: Prepared) -> None:
    """With ``--per-deployment``, file this answer under ``NAME @DEPLOYMENT``: the name Locust's request event
    reports when the ``with`` block ends. An answer naming no deployment (no answer at all, Azure's 404 for no
    route, a bare container) keeps the plain name."""
    if not prepared.per_deployment:
        return
    served = (response.headers or {}).get(DEPLOYMENT_HEADER)
    if served and DEPLOYMENT_NAME_RULE.fullmatch(served):  # only a well-formed name becomes part of a row's name
        response.request_meta["name"] = f"{response.request_meta['name']} @{served}"


def _listen(hook: Any, listener: Callable[..., Any]) -> None:
    """Register through ``Any``: Locust's hooks are untyped, and mypy --strict refuses untyped decorators/calls."""
    hook.add_listener(listener)


_listen(events.init_command_line_parser, _add_options)
_listen(events.init, _on_init)
_listen(events.test_start, _on_test_start)
_listen(events.request, _on_request)
_listen(events.worker_report, _on_worker_report)
_listen(events.report_to_master, _report_to_master)
_listen(events.init, _remember_runner)
_listen(events.quitting, _slo_gate)
_listen(events.quitting, _settle_csv_reports)
