"""What the load test sends and how it judges an answer: plain Python, no Locust, no gevent.

Kept apart from the Locust glue (:mod:`_common`) so that pytest can import and check it without Locust's
gevent monkey-patching. Bodies are encoded once, before the run, so the generator spends its CPU on traffic.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from _openloop import samples_needed

from bankmarketing_client.contract import (
    Contract,
    decode_results,
    detect_contract,
    encode,
    read_records_file,
    to_predictions,
)
from bankmarketing_client.contracts import names
from bankmarketing_client.data import iter_rows, resolve_train_path
from bankmarketing_client.errors import BankMarketingError, ConfigurationError, DatasetError, RecordValidationError
from bankmarketing_client.features import records_from_text, records_to_wire
from bankmarketing_client.urls import EndpointURLs, endpoint_urls, redact_url

#: Exit codes set by the SLO gates (Locust itself uses 0 = pass, 1 = some request failed):
#: 2 set-up error; 3 failure ratio breached; 4 a latency gate (p95, p99 or p99.9) breached; 5 both; 6 no
#: requests, or not enough measured requests to support a gated percentile; 7 the open-loop generator fell
#: behind its own schedule (no gate passes such a run).
EXIT_OK: Final = 0
EXIT_SETUP_ERROR: Final = 2
EXIT_SLO_FAIL_RATIO: Final = 3
EXIT_SLO_P95: Final = 4
EXIT_SLO_BOTH: Final = 5
EXIT_SLO_NO_REQUESTS: Final = 6
EXIT_GENERATOR_BEHIND: Final = 7

#: The original benchmark's data.json held two records.
BENCHMARK_RECORDS: Final = 2


# -- target --------------------------------------------------------------------------------------------------


def resolve_target(host: str | None, scoring_uri: str | None) -> EndpointURLs:
    """Accept either a bare host or a full scoring URI (``--scoring-uri`` wins over ``--host``).

    Locust's host is the target's ``origin``; its requests go to ``scoring_path`` and the probes beside it.
    """
    given = scoring_uri or host
    if not given:
        raise ConfigurationError("no target: give --host http://HOST or --scoring-uri http://HOST/score")
    return endpoint_urls(given, what="the target")


def detect_family(target: EndpointURLs, *, timeout: float = 10.0, deployment: str | None = None) -> Contract:
    """The contract the endpoint's own swagger declares (its family, and what the family reads there), read as the
    client reads it: from ``deployment``'s swagger when one is named (an MLflow deployment's says whether it
    answers probabilities).

    The project's sync client (it works under gevent) fetches the swagger beside the scoring route and detects
    the family, so the load test and the client cannot disagree about an endpoint. One attempt, no key: Azure
    serves the swagger unauthenticated, and a setup step should fail fast rather than retry.
    """
    from bankmarketing_client.client import ScoringClient, Timeouts
    from bankmarketing_client.retry import RetryPolicy

    url = redact_url(target.url("swagger.json"))
    client = ScoringClient(
        target.scoring_url,
        timeouts=Timeouts(connect=timeout, read=timeout, total=timeout),
        retry=RetryPolicy(max_attempts=1, deadline=timeout),
        use_env=False,  # no key from the environment: the swagger needs none, and none should travel
        deployment=deployment,
    )
    with client:
        try:
            spec = client.swagger()
        except BankMarketingError as exc:
            reason = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise ConfigurationError(
                f"could not read the endpoint's swagger at {url} ({reason}); pass --contract {'|'.join(names())}"
            ) from None
    return detect_contract(spec)


# -- records -------------------------------------------------------------------------------------------------


def load_payload_file(path: str | Path) -> list[dict[str, Any]]:
    """The records of a data.json like the original's (any of the shapes Azure users keep), sent as they are."""
    return read_records_file(path, what="the payload file")


def sample_records(count: int, *, seed: int, dataset: str | Path | None = None) -> list[dict[str, Any]]:
    """``count`` distinct dataset rows (features only, in swagger order, numbers typed), the same for the same seed.

    Cells are read by the record codec (:func:`~bankmarketing_client.features.records_from_text`), so a value
    the client would refuse is refused here too, naming the file, row and field.
    """
    if count < 1:
        raise ConfigurationError(f"the number of records to sample must be at least 1, not {count}")
    path = resolve_train_path(dataset, download=False)
    rows = list(iter_rows(path))
    if not rows:
        raise DatasetError(f"{path}: the dataset has no rows")
    rng = random.Random(seed)
    chosen = (
        rng.sample(range(len(rows)), count) if count <= len(rows) else [rng.randrange(len(rows)) for _ in range(count)]
    )
    try:
        # +2: row numbers as a spreadsheet shows them (1-based, after the header line).
        records = [records_from_text([rows[index]], start_row=index + 2)[0] for index in chosen]
    except RecordValidationError as exc:
        raise DatasetError(f"{path}: {exc}") from None
    return records_to_wire(records)


# -- bodies --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Body:
    """One request ready to send: the encoded JSON and how many results its answer must hold."""

    data: bytes
    records: int


def build_body(records: Sequence[Mapping[str, Any]], family: str | Contract, method: str) -> Body:
    contract = Contract.of(family) if isinstance(family, str) else family
    body = contract.build_body(records, method=method)  # type: ignore[arg-type]
    return Body(encode(body), len(records))


def build_batches(
    pool: Sequence[Mapping[str, Any]], batch_size: int, count: int, *, seed: int, family: str | Contract, method: str
) -> list[Body]:
    """``count`` bodies of ``batch_size`` records each, drawn from ``pool`` with a fixed seed."""
    if batch_size < 1:
        raise ConfigurationError(f"--batch-size must be at least 1, not {batch_size}")
    rng = random.Random(seed)
    records = list(pool)
    bodies = []
    for _ in range(max(1, count)):
        chosen = rng.sample(records, batch_size) if batch_size <= len(records) else rng.choices(records, k=batch_size)
        bodies.append(build_body(chosen, family, method))
    return bodies


# -- judging answers -----------------------------------------------------------------------------------------


def judge_score(status: int, body: bytes | None, expected: int, *, proba: bool) -> str | None:
    """Why a scoring answer is a failure, or ``None`` when it is a well-formed answer for ``expected`` records.

    A 200 is not enough: the classic scripts report errors as a 200 holding ``{"error": ...}``, and an answer
    with the wrong number of results is as wrong as a 500.
    """
    content = body or b""
    if status != 200:
        detail = " ".join(content[:200].decode("utf-8", "replace").split())
        return f"HTTP {status}: {detail}" if detail else f"HTTP {status}"
    try:
        results = decode_results(content, status=status)
        to_predictions(results, expected, proba=proba, status=status)
    except BankMarketingError as exc:
        return f"HTTP 200 but {str(exc).split(chr(10))[0]}"
    return None


def judge_health(status: int, body: bytes | None) -> str | None:
    if status != 200:
        return f"HTTP {status}"
    text = (body or b"").decode("utf-8", "replace").strip().strip('"')
    return None if text == "Healthy" else f"HTTP 200 but the body is {text[:60]!r}, not 'Healthy'"


def judge_swagger(status: int, body: bytes | None) -> str | None:
    if status != 200:
        return f"HTTP {status}"
    try:
        spec = json.loads(body or b"")
    except ValueError:
        return "HTTP 200 but the swagger is not JSON"
    paths = spec.get("paths") if isinstance(spec, dict) else None
    if not isinstance(paths, dict) or not any(p.rstrip("/").endswith("score") for p in paths):
        return "HTTP 200 but the swagger declares no /score path"
    return None


# -- SLO gate ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """The gate's decision: an exit code (``None`` leaves it to Locust) and one line per gate for the log."""

    exit_code: int | None
    lines: tuple[str, ...]


#: The latency gates: option label and the percentile (0..100) each one bounds.
LATENCY_GATES: Final[tuple[tuple[str, float], ...]] = (("p95", 95.0), ("p99", 99.0), ("p99.9", 99.9))


def evaluate_slo(
    *,
    num_requests: int,
    fail_ratio: float,
    latency_ms: Mapping[float, float],
    slo_ms: Mapping[float, float | None],
    slo_fail_ratio: float | None,
    samples: int | None = None,
    scope: str = "",
) -> Verdict:
    """Compare one scope's figures (the run's totals, or one deployment's) with the configured gates.

    ``latency_ms`` holds the measured value of each percentile in ``slo_ms`` (its limit, or None: no gate);
    ``samples`` is how many measured requests the percentiles come from (default ``num_requests``). A gated
    percentile the sample cannot support (:func:`_openloop.samples_needed`) exits 6, never 0: with a handful of
    requests the "p99" is the maximum. With no gate configured Locust decides (1 on any failure). A passing
    ``--slo-fail-ratio`` gate means the failures seen were within budget, so the run exits 0; passing latency
    gates alone leave failures to Locust.
    """
    gates = [(label, q, slo_ms.get(q)) for label, q in LATENCY_GATES if slo_ms.get(q) is not None]
    if not gates and slo_fail_ratio is None:
        return Verdict(None, ())
    where = f" ({scope})" if scope else ""
    if num_requests == 0:
        return Verdict(EXIT_SLO_NO_REQUESTS, (f"SLO gate{where}: no requests were made, so no SLO can be met",))
    measured = num_requests if samples is None else samples
    short = [(label, samples_needed(q)) for label, q, _ in gates if measured < samples_needed(q)]
    if short:
        needs = ", ".join(f"{label} needs {count}" for label, count in short)
        return Verdict(
            EXIT_SLO_NO_REQUESTS,
            (f"SLO gate{where}: not enough samples: {measured} measured requests ({needs}); run longer or faster",),
        )
    lines = []
    ratio_breached = latency_breached = False
    if slo_fail_ratio is not None:
        ratio_breached = fail_ratio > slo_fail_ratio
        lines.append(
            f"SLO fail ratio{where} {fail_ratio:.4f} {'>' if ratio_breached else '<='} {slo_fail_ratio:g}: "
            + ("BREACHED" if ratio_breached else "ok")
        )
    for label, q, limit in gates:
        assert limit is not None
        value = latency_ms[q]
        breached = value > limit
        latency_breached |= breached
        lines.append(
            f"SLO {label}{where} {value:g} ms {'>' if breached else '<='} {limit:g} ms: "
            + ("BREACHED" if breached else "ok")
        )
    if ratio_breached and latency_breached:
        return Verdict(EXIT_SLO_BOTH, tuple(lines))
    if ratio_breached:
        return Verdict(EXIT_SLO_FAIL_RATIO, tuple(lines))
    if latency_breached:
        return Verdict(EXIT_SLO_P95, tuple(lines))
    return Verdict(EXIT_OK if slo_fail_ratio is not None else None, tuple(lines))


def combine_verdicts(verdicts: Sequence[Verdict], *, fell_behind: bool = False, behind_line: str = "") -> Verdict:
    """One decision from several scopes' (the totals and each deployment): the most serious code wins, a latency
    breach in one scope and a failure-ratio breach in another make 5, and a generator that fell behind its
    schedule fails every gate (7): its figures measure the generator, not the endpoint."""
    lines = tuple(line for verdict in verdicts for line in verdict.lines)
    codes = {verdict.exit_code for verdict in verdicts}
    if fell_behind and (lines or codes - {None}):
        return Verdict(EXIT_GENERATOR_BEHIND, (*lines, f"SLO gates: no gate passes: {behind_line}"))
    if EXIT_SLO_NO_REQUESTS in codes:
        return Verdict(EXIT_SLO_NO_REQUESTS, lines)
    if EXIT_SLO_BOTH in codes or {EXIT_SLO_FAIL_RATIO, EXIT_SLO_P95} <= codes:
        return Verdict(EXIT_SLO_BOTH, lines)
    for code in (EXIT_SLO_FAIL_RATIO, EXIT_SLO_P95, EXIT_OK):
        if code in codes:
            return Verdict(code, lines)
    return Verdict(None, lines)


def split_budget(total: int, workers: int) -> list[int]:
    """Share ``total`` requests among ``workers`` as evenly as possible (the first ones get the remainder)."""
    if workers < 1:
        return []
    base, extra = divmod(total, workers)
    return [base + (1 if i < extra else 0) for i in range(workers)]
