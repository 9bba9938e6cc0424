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

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from _payloads import (
    BENCHMARK_RECORDS,
    EXIT_SETUP_ERROR,
    Body,
    build_batches,
    build_body,
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
        "--slo-fail-ratio",
        type=float,
        default=None,
        help="Fail the run (exit 3) if the failure ratio exceeds this (0..1); within it, failures exit 0",
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
class State:
    prepared: Prepared | None = None
    budget: Budget = field(default_factory=Budget)


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
        return
    options = _options(environment)
    if options is None:
        return
    _keep_tagged_user_classes(environment)
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


def _on_test_start(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    options = _options(environment)
    if isinstance(runner, MasterRunner):
        if options.max_requests > 0:
            workers = runner.clients.ready + runner.clients.running + runner.clients.spawning
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


def _on_request(**_: Any) -> None:
    budget = STATE.budget
    budget.done += 1
    if budget.limit is not None and budget.done >= budget.limit and not budget.quitting:
        runner = _runner
        if runner is not None and not isinstance(runner, WorkerRunner):
            budget.quitting = True
            log.info("--max-requests %d reached; stopping", budget.limit)
            gevent.spawn(runner.quit)


def _on_worker_report(**_: Any) -> None:
    """On the master: stop once the workers report the whole budget done."""
    runner = _runner
    budget = STATE.budget
    if runner is None or budget.limit is None or budget.quitting:
        return
    if runner.stats.total.num_requests >= budget.limit:
        budget.quitting = True
        log.info("--max-requests %d reached across the workers; stopping", budget.limit)
        gevent.spawn(runner.quit)


def _remember_runner(environment: Environment, **_: Any) -> None:
    global _runner
    _runner = environment.runner


def _slo_gate(environment: Environment, **_: Any) -> None:
    """The SLO gate: on the master or the only process, over the aggregated totals."""
    if _is_worker(environment) or environment.parsed_options is None:
        return
    options = _options(environment)
    if environment.process_exit_code == EXIT_SETUP_ERROR:
        return
    total = environment.stats.total
    verdict = evaluate_slo(
        num_requests=total.num_requests,
        fail_ratio=total.fail_ratio,
        p95_ms=total.get_response_time_percentile(0.95) or 0.0,
        slo_p95_ms=options.slo_p95_ms,
        slo_fail_ratio=options.slo_fail_ratio,
    )
    for line in verdict.lines:
        (log.error if "BREACHED" in line or "no requests" in line else log.info)(line)
    if verdict.exit_code is not None:
        environment.process_exit_code = verdict.exit_code


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
        body = pick(prepared)
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
_listen(events.init, _remember_runner)
_listen(events.quitting, _slo_gate)
_listen(events.quitting, _settle_csv_reports)
