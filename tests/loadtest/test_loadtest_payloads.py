"""The load test's payloads, answer checks and SLO verdicts, checked without Locust.

``loadtest/_payloads.py`` imports no Locust, so it can be imported here without gevent patching the pytest
process. Real inputs: the dataset and Azure's real data.json / answer files from ``shared/data``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

# loadtest/ holds top-level modules (Locust loads it that way). Put it on the path only while importing the
# Locust-free one, so no other test can import a scenario file (and Locust's gevent patching) by accident.
LOADTEST_DIR = str(Path(__file__).resolve().parents[2] / "loadtest")
sys.path.insert(0, LOADTEST_DIR)
try:
    import _payloads
finally:
    sys.path.remove(LOADTEST_DIR)

from bankmarketing_client.data import FEATURE_COLUMNS, FLOAT_COLUMNS, INTEGER_COLUMNS  # noqa: E402
from bankmarketing_client.errors import ConfigurationError, DatasetError  # noqa: E402
from bankmarketing_client.local.endpoint import LocalEndpoint  # noqa: E402


@pytest.mark.parametrize(
    ("host", "uri", "base", "path"),
    [
        ("http://127.0.0.1:8080", None, "http://127.0.0.1:8080", "/score"),
        ("http://127.0.0.1:8080/", None, "http://127.0.0.1:8080", "/score"),
        ("http://h.example/score", None, "http://h.example", "/score"),
        ("http://10.0.0.1:8890/score/?x=1", None, "http://10.0.0.1:8890", "/score"),
        ("http://[::1]:8890", None, "http://[::1]:8890", "/score"),
        ("http://ignored", "https://x.azurecontainer.io/api/v1/service/bm/score", "https://x.azurecontainer.io",
         "/api/v1/service/bm/score"),
    ],
)  # fmt: skip
def test_resolve_target_accepts_host_or_full_uri(host: str, uri: str | None, base: str, path: str) -> None:
    target = _payloads.resolve_target(host, uri)
    assert (target.origin, target.scoring_path) == (base, path)


@pytest.mark.parametrize("bad", [None, "", "127.0.0.1:8080", "ftp://h/score"])
def test_resolve_target_refuses_what_is_not_an_http_url(bad: str | None) -> None:
    with pytest.raises(ConfigurationError):
        _payloads.resolve_target(bad, None)


def test_a_key_given_as_the_target_is_not_echoed() -> None:
    with pytest.raises(ConfigurationError, match="not a URL") as caught:
        _payloads.resolve_target(None, "Zx9SECRETKEYvalue")
    assert "SECRET" not in str(caught.value)


def test_detect_family_reads_the_swagger_beside_the_scoring_route(endpoint_data: LocalEndpoint) -> None:
    for given in (endpoint_data.scoring_uri, endpoint_data.base_url.rstrip("/") + "/"):
        assert _payloads.detect_family(_payloads.resolve_target(given, None)).family == "data"


def test_detect_family_failures_are_one_line_naming_the_redacted_url(endpoint_data: LocalEndpoint) -> None:
    """The client fetches the swagger: a refused connection or a 404 is one line, the URL without its userinfo."""
    from bankmarketing_client.local.process import free_port

    origin = endpoint_data.base_url.removeprefix("http://")
    for given, words in (
        (f"http://user:SECRETKEY@127.0.0.1:{free_port()}/score", "could not read the endpoint's swagger at http://"),
        (f"http://user:SECRETKEY@{origin}/nowhere/score", "404"),
    ):
        with pytest.raises(ConfigurationError) as caught:
            _payloads.detect_family(_payloads.resolve_target(None, given), timeout=5.0)
        message = str(caught.value)
        assert words in message
        assert "/swagger.json (" in message
        assert message.endswith("pass --contract inputs|data|data-method|mlflow")
        assert "\n" not in message
        assert "SECRETKEY" not in message


@pytest.mark.parametrize(
    "name",
    [
        "data-2020-08-udacity-starter.json",
        "data-2023-07-inputs-globalparams-benchmarked.json",
        "data-2023-07-inputs-only.json",
    ],
)
def test_payload_files_of_both_families_yield_their_records(shared_data: Path, name: str) -> None:
    records = _payloads.load_payload_file(shared_data / "azure-samples" / name)
    assert len(records) == 2
    assert set(records[0]) == set(FEATURE_COLUMNS)
    body = _payloads.build_body(records, "inputs", "predict")
    assert json.loads(body.data)["Inputs"]["data"] == records  # re-wrapped, records untouched
    assert json.loads(_payloads.build_body(records, "data", "predict").data) == {"data": records}


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("not json", "not valid JSON"),
        ('{"rows": []}', "no member that holds records"),
        ('{"data": []}', "no records"),
        ('{"data": [1, 2]}', "row 1"),
    ],
)
def test_bad_payload_files_are_refused_with_a_reason(tmp_path: Path, content: str, words: str) -> None:
    file = tmp_path / "data.json"
    file.write_text(content)
    with pytest.raises(ConfigurationError, match=words):
        _payloads.load_payload_file(file)


def test_missing_payload_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"missing\.json"):
        _payloads.load_payload_file(tmp_path / "missing.json")


def test_sampled_records_are_typed_and_fixed_by_the_seed(train_path: Path) -> None:
    first = _payloads.sample_records(50, seed=7, dataset=train_path)
    again = _payloads.sample_records(50, seed=7, dataset=train_path)
    other = _payloads.sample_records(50, seed=8, dataset=train_path)
    assert first == again
    assert first != other
    for record in first:
        assert list(record) == list(FEATURE_COLUMNS)  # swagger order, no target column
        for name in INTEGER_COLUMNS:
            assert type(record[name]) is int
        for name in FLOAT_COLUMNS:
            assert type(record[name]) is float
    batches = _payloads.build_batches(first, 10, 4, seed=1, family="inputs", method="predict")
    assert [b.records for b in batches] == [10, 10, 10, 10]
    assert batches == _payloads.build_batches(first, 10, 4, seed=1, family="inputs", method="predict")


@pytest.mark.parametrize(
    ("value", "reason"),
    [("often", "'often' is not an integer"), ("2.5", "2.5 is not a whole number")],  # a fraction is not cut to 2
)
def test_a_bad_number_in_the_dataset_names_row_and_field(
    tmp_path: Path, train_path: Path, value: str, reason: str
) -> None:
    lines = train_path.read_text().splitlines()[:4]
    header = lines[0].split(",")
    cells = lines[2].split(",")
    cells[header.index("campaign")] = value
    bad = tmp_path / "train.csv"
    bad.write_text("\n".join([lines[0], lines[1], ",".join(cells), lines[3]]) + "\n")
    with pytest.raises(DatasetError, match=re.escape(f"train.csv: row 3, campaign: {reason}")):
        _payloads.sample_records(3, seed=1, dataset=bad)


def test_whole_numbers_written_as_floats_are_read_as_integers(tmp_path: Path, train_path: Path) -> None:
    lines = train_path.read_text().splitlines()[:2]
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("age")] = "57.0"
    written = tmp_path / "train.csv"
    written.write_text(lines[0] + "\n" + ",".join(cells) + "\n")
    (record,) = _payloads.sample_records(1, seed=1, dataset=written)
    assert record["age"] == 57
    assert type(record["age"]) is int


def test_judge_score_accepts_both_real_answer_shapes(load_sample: Any) -> None:
    for name in ("response-2020-07-double-encoded-result.json", "response-2023-07-results.json"):
        body = json.dumps(load_sample(name)).encode()
        assert _payloads.judge_score(200, body, 2, proba=False) is None


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (200, json.dumps(json.dumps({"error": "boom"})).encode(), "reported an error: boom"),
        (200, b'{"Results": ["no"]}', "sent 2 records but got 1"),
        (200, b"<html>", "not JSON"),
        (200, b'{"Results": ["no", 3]}', "row 2"),
        (401, b'{"message": "Unauthorized"}', "HTTP 401"),
        (0, None, "HTTP 0"),
    ],
)
def test_judge_score_fails_bad_answers(status: int, body: bytes | None, words: str) -> None:
    reason = _payloads.judge_score(status, body, 2, proba=False)
    assert reason is not None
    assert words in reason


def test_judge_health_and_swagger() -> None:
    assert _payloads.judge_health(200, b"Healthy") is None
    assert _payloads.judge_health(200, b"Unhealthy") is not None
    assert _payloads.judge_health(503, b"") == "HTTP 503"
    assert _payloads.judge_swagger(200, b'{"paths": {"/score": {}}}') is None
    assert _payloads.judge_swagger(200, b'{"paths": {"/": {}}}') is not None
    assert _payloads.judge_swagger(200, b"[]") is not None


@pytest.mark.parametrize(
    ("fail_ratio", "p95", "slo_p95", "slo_ratio", "code"),
    [
        (0.0, 10.0, None, None, None),  # no gate: Locust decides
        (0.2, 10.0, None, 0.1, _payloads.EXIT_SLO_FAIL_RATIO),
        (0.2, 10.0, None, 0.5, _payloads.EXIT_OK),  # failures within budget exit 0
        (0.0, 10.0, 5.0, None, _payloads.EXIT_SLO_P95),
        (0.0, 10.0, 10.0, None, None),  # p95 passes; failures (none here) stay Locust's call
        (0.2, 10.0, 5.0, 0.1, _payloads.EXIT_SLO_BOTH),
        (0.0, 10.0, 50.0, 0.0, _payloads.EXIT_OK),
    ],
)
def test_slo_verdicts(
    fail_ratio: float, p95: float, slo_p95: float | None, slo_ratio: float | None, code: int | None
) -> None:
    verdict = _payloads.evaluate_slo(
        num_requests=1000,
        fail_ratio=fail_ratio,
        latency_ms={95.0: p95},
        slo_ms={95.0: slo_p95},
        slo_fail_ratio=slo_ratio,
    )
    assert verdict.exit_code == code
    assert len(verdict.lines) == (slo_p95 is not None) + (slo_ratio is not None)


def test_slo_gate_refuses_a_run_without_requests() -> None:
    verdict = _payloads.evaluate_slo(
        num_requests=0, fail_ratio=0.0, latency_ms={95.0: 0.0}, slo_ms={95.0: 100.0}, slo_fail_ratio=None
    )
    assert verdict.exit_code == _payloads.EXIT_SLO_NO_REQUESTS


@pytest.mark.parametrize(("percentile", "needed"), [(95.0, 200), (99.0, 1000), (99.9, 10000)])
def test_a_percentile_gate_needs_ten_samples_beyond_its_percentile(percentile: float, needed: int) -> None:
    def verdict(samples: int) -> _payloads.Verdict:
        return _payloads.evaluate_slo(
            num_requests=samples,
            fail_ratio=0.0,
            latency_ms={percentile: 1.0},
            slo_ms={percentile: 1e9},  # a limit no run misses: only the sample size can fail it
            slo_fail_ratio=None,
        )

    assert verdict(needed - 1).exit_code == _payloads.EXIT_SLO_NO_REQUESTS
    assert "not enough samples" in verdict(needed - 1).lines[0]
    assert verdict(needed).exit_code is None  # passes; failures (none here) stay Locust's call


def test_verdicts_of_several_scopes_combine_and_a_generator_behind_passes_none() -> None:
    ok = _payloads.Verdict(_payloads.EXIT_OK, ("ok",))
    ratio = _payloads.Verdict(_payloads.EXIT_SLO_FAIL_RATIO, ("r",))
    latency = _payloads.Verdict(_payloads.EXIT_SLO_P95, ("l",))
    combine = _payloads.combine_verdicts
    assert combine([ok, latency]).exit_code == _payloads.EXIT_SLO_P95
    assert combine([ratio, latency]).exit_code == _payloads.EXIT_SLO_BOTH
    assert combine([ok, ok], fell_behind=True).exit_code == _payloads.EXIT_GENERATOR_BEHIND
    assert combine([_payloads.Verdict(None, ())], fell_behind=True).exit_code is None  # no gate asked for


def test_exit_codes_are_distinct() -> None:
    codes = [
        _payloads.EXIT_OK,
        1,  # Locust: some request failed
        _payloads.EXIT_SETUP_ERROR,
        _payloads.EXIT_SLO_FAIL_RATIO,
        _payloads.EXIT_SLO_P95,
        _payloads.EXIT_SLO_BOTH,
        _payloads.EXIT_SLO_NO_REQUESTS,
        _payloads.EXIT_GENERATOR_BEHIND,
    ]
    assert len(set(codes)) == len(codes)


@pytest.mark.parametrize(
    ("total", "workers", "shares"), [(40, 2, [20, 20]), (7, 3, [3, 2, 2]), (1, 2, [1, 0]), (5, 0, [])]
)
def test_split_budget(total: int, workers: int, shares: list[int]) -> None:
    assert _payloads.split_budget(total, workers) == shares
