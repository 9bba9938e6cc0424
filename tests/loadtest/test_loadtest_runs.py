"""Short, bounded headless Locust runs against the real local endpoint (loopback only).

Locust runs as a subprocess: importing it here would let gevent monkey-patch the pytest process. Each run is
bounded twice, by ``--max-requests`` (or a tiny shape) and by ``-t``/a subprocess timeout. Results are read
from Locust's own CSV report and cross-checked against the front's counters (``ep.stats()``), which see the
traffic from the server side. No timed asserts: latency gates use thresholds no run can meet or miss.
"""

from __future__ import annotations

import csv
import json
import os
import select
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.local.process import free_port
from bankmarketing_client.local.pytest_plugin import EndpointFactory

REPO = Path(__file__).resolve().parents[2]
LOADTEST = REPO / "loadtest"
RUN_TIMEOUT = 90  # seconds; a run that does not stop by itself fails the test instead of hanging it


@dataclass
class Run:
    code: int
    output: str
    folder: Path

    def aggregated(self) -> dict[str, str]:
        with (self.folder / "run_stats.csv").open(newline="") as fh:
            rows = [row for row in csv.DictReader(fh) if row["Name"] == "Aggregated"]
        assert rows, f"no Aggregated row in the CSV report:\n{self.output[-3000:]}"
        return rows[0]

    @property
    def requests(self) -> int:
        return int(self.aggregated()["Request Count"])

    @property
    def failures(self) -> int:
        return int(self.aggregated()["Failure Count"])

    def names(self) -> set[str]:
        with (self.folder / "run_stats.csv").open(newline="") as fh:
            return {row["Name"] for row in csv.DictReader(fh)} - {"Aggregated"}

    def failure_report(self) -> str:
        return (self.folder / "run_failures.csv").read_text()


def _env(train_path: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BANKMARKETING_", "LOCUST_"))}
    env["BANKMARKETING_DATA"] = str(train_path)
    env.update(extra or {})
    return env


def _locust_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOADTEST), *args]


def run_locust(tmp_path: Path, train_path: Path, *args: str, env: dict[str, str] | None = None, users: int = 2) -> Run:
    folder = tmp_path / f"out-{len(list(tmp_path.iterdir()))}"
    command = _locust_cmd(
        "--headless", "-u", str(users), "-r", str(users), "-t", "60s",
        "--csv", str(folder / "run"), "--html", str(folder / "report.html"), "--only-summary",
        *args,
    )  # fmt: skip
    done = subprocess.run(
        command, cwd=tmp_path, env=_env(train_path, env), capture_output=True, text=True, timeout=RUN_TIMEOUT
    )
    return Run(done.returncode, done.stdout + done.stderr, folder)


def _delta(before: dict[str, int], after: dict[str, int], key: str) -> int:
    return after.get(key, 0) - before.get(key, 0)


def test_right_key_scores_without_failures_stops_at_max_requests_and_writes_reports(
    tmp_path: Path, train_path: Path, endpoint_inputs: LocalEndpoint
) -> None:
    before = endpoint_inputs.stats()
    run = run_locust(
        tmp_path, train_path,
        "--host", endpoint_inputs.scoring_uri, "--max-requests", "30", "--batch-size", "8",
        "BatchScoringUser", "BenchmarkUser",
        env={"BANKMARKETING_API_KEY": endpoint_inputs.primary_key},  # the key from the environment
    )  # fmt: skip
    after = endpoint_inputs.stats()
    assert run.code == 0, run.output[-3000:]
    assert "--max-requests 30 reached" in run.output
    assert (run.requests, run.failures) == (30, 0)
    assert _delta(before, after, "200") == 30  # the server saw exactly the budget, all answered 200
    assert {"/score [batch]", "/score [benchmark]"} <= run.names()
    html = (run.folder / "report.html").read_text()
    assert "/score [batch]" in html
    for text in (run.output, html, *(p.read_text() for p in run.folder.glob("*.csv"))):
        assert endpoint_inputs.primary_key not in text


def test_contract_detected_from_swagger_and_original_data_json_rewrapped(
    tmp_path: Path, train_path: Path, shared_data: Path, endpoint_data: LocalEndpoint, endpoint_inputs: LocalEndpoint
) -> None:
    data_json = shared_data / "azure-samples" / "data-2020-08-udacity-starter.json"  # a data-family file
    for endpoint, answer in ((endpoint_data, r"{\"result\": ["), (endpoint_inputs, '{"Results": [')):
        before = endpoint.stats()
        run = run_locust(
            tmp_path, train_path,
            "--scoring-uri", endpoint.scoring_uri, "--api-key", endpoint.primary_key, "--payload", str(data_json),
            "--max-requests", "6", "--show-responses", "BenchmarkUser",
            users=1,
        )  # fmt: skip
        assert run.code == 0, run.output[-3000:]
        assert (run.requests, run.failures) == (6, 0)
        assert answer in run.output  # each endpoint answered in its own family's shape
        assert _delta(before, endpoint.stats(), "200") == 6
        assert endpoint.primary_key not in run.output


def test_wrong_key_counts_401_as_failures_and_sets_the_exit_code(
    tmp_path: Path, train_path: Path, endpoint_inputs: LocalEndpoint
) -> None:
    before = endpoint_inputs.stats()
    run = run_locust(
        tmp_path, train_path,
        "--host", endpoint_inputs.base_url, "--api-key", "not-the-key", "--max-requests", "10", "BenchmarkUser",
    )  # fmt: skip
    assert run.code == 1, run.output[-3000:]
    assert (run.requests, run.failures) == (10, 10)
    assert "HTTP 401" in run.failure_report()
    assert _delta(before, endpoint_inputs.stats(), "401") == 10


def test_an_error_inside_a_200_is_a_failure(
    tmp_path: Path, train_path: Path, shared_data: Path, endpoint_data: LocalEndpoint
) -> None:
    original = (shared_data / "azure-samples" / "data-2020-08-udacity-starter.json").read_text()
    bad = tmp_path / "bad-data.json"
    bad.write_text(original.replace('"age": 17', '"age": "seventeen"', 1))
    before = endpoint_data.stats()
    run = run_locust(
        tmp_path, train_path,
        "--host", endpoint_data.base_url, "--api-key", endpoint_data.primary_key, "--payload", str(bad),
        "--max-requests", "5", "BenchmarkUser",
        users=1,
    )  # fmt: skip
    assert _delta(before, endpoint_data.stats(), "200") == 5  # the server said 200 every time...
    assert run.code == 1, run.output[-3000:]
    assert (run.requests, run.failures) == (5, 5)  # ...and every one counts as a failure
    assert "reported an error" in run.failure_report()


def test_probes_and_mix_pass(tmp_path: Path, train_path: Path, endpoint_inputs: LocalEndpoint) -> None:
    run = run_locust(
        tmp_path, train_path,
        "--host", endpoint_inputs.base_url, "--api-key", endpoint_inputs.primary_key, "--max-requests", "12",
        "HealthUser", "SwaggerUser", "RealisticMixUser",
        users=3,
    )  # fmt: skip
    assert run.code == 0, run.output[-3000:]
    assert (run.requests, run.failures) == (12, 0)
    assert {"/ (health)", "/swagger.json"} <= run.names()


def test_tags_select_only_the_user_classes_that_keep_a_task(
    tmp_path: Path, train_path: Path, endpoint_inputs: LocalEndpoint
) -> None:
    run = run_locust(
        tmp_path, train_path,
        "--host", endpoint_inputs.base_url, "--max-requests", "10", "-T", "health", "swagger",
        users=4,
    )  # fmt: skip
    assert run.code == 0, run.output[-3000:]
    assert "No tasks defined" not in run.output  # Locust alone would start every class, taskless ones too
    assert run.names() == {"/ (health)", "/swagger.json"}
    assert (run.requests, run.failures) == (10, 0)


@pytest.fixture(scope="module")
def slow_endpoint(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    """Every prediction takes 20 ms more, so latency is real; room for the users of these runs."""
    return bankmarketing_endpoint_factory(contract="inputs", model_delay_ms=20, max_pending=32)


@pytest.mark.parametrize(("threshold", "code"), [("0.001", 4), ("60000", 0)])
def test_p95_gate_trips_and_passes(
    tmp_path: Path, train_path: Path, slow_endpoint: LocalEndpoint, threshold: str, code: int
) -> None:
    run = run_locust(
        tmp_path, train_path,
        "--host", slow_endpoint.base_url, "--api-key", slow_endpoint.primary_key, "--max-requests", "200",
        "--slo-p95-ms", threshold, "BenchmarkUser",
    )  # fmt: skip
    assert run.code == code, run.output[-3000:]
    assert run.failures == 0
    assert ("BREACHED" in run.output) is (code != 0)


@pytest.mark.parametrize(
    ("key_ok", "args", "code"),
    [
        (False, ("--slo-fail-ratio", "0.5"), 3),
        (False, ("--slo-fail-ratio", "1"), 0),  # every request failed, but that was within the stated budget
        (True, ("--slo-fail-ratio", "0"), 0),
        (False, ("--slo-fail-ratio", "0.5", "--slo-p95-ms", "0.001"), 5),
    ],
)
def test_fail_ratio_gate_trips_and_passes(
    tmp_path: Path, train_path: Path, endpoint_inputs: LocalEndpoint, key_ok: bool, args: tuple[str, ...], code: int
) -> None:
    key = endpoint_inputs.primary_key if key_ok else "wrong-key"
    run = run_locust(
        tmp_path, train_path,
        "--host", endpoint_inputs.base_url, "--api-key", key, "--max-requests", "200", *args, "BenchmarkUser",
    )  # fmt: skip
    assert run.code == code, run.output[-3000:]
    assert run.failures == (0 if key_ok else 200)


def test_setup_error_is_one_line_and_exit_code_2(tmp_path: Path, train_path: Path) -> None:
    run = run_locust(
        tmp_path, train_path,
        "--host", "http://127.0.0.1:9", "--contract", "inputs", "--payload", str(tmp_path / "nope.json"),
        "BenchmarkUser",
    )  # fmt: skip
    assert run.code == 2, run.output[-3000:]
    assert "cannot read the payload file" in run.output
    assert "Traceback" not in run.output


@pytest.mark.parametrize(
    ("shape", "options"),
    [
        ("step.py", ("--step-users", "1", "--step-seconds", "1", "--steps", "2")),
        ("spike.py", ("--spike-base-users", "1", "--spike-users", "2", "--spike-warmup", "1",
                      "--spike-seconds", "1", "--spike-recovery", "1")),
    ],
)  # fmt: skip
def test_a_shape_applies_only_when_asked_and_ends_the_run(
    tmp_path: Path, train_path: Path, endpoint_inputs: LocalEndpoint, shape: str, options: tuple[str, ...]
) -> None:
    run = run_locust(
        tmp_path, train_path,
        "-f", f"{LOADTEST},{REPO / 'loadtest_shapes' / shape}",
        "--host", endpoint_inputs.base_url, "--api-key", endpoint_inputs.primary_key, *options, "HealthUser",
    )  # fmt: skip
    assert run.code == 0, run.output[-3000:]
    assert "Shape test completed" in run.output or "Shape test stopping" in run.output
    assert run.requests > 0
    assert run.failures == 0


def test_distributed_run_shares_the_budget_and_gates_on_the_master(
    tmp_path: Path, train_path: Path, endpoint_inputs: LocalEndpoint
) -> None:
    port = str(free_port())
    folder = tmp_path / "distributed"
    env = _env(train_path)
    master = subprocess.Popen(
        _locust_cmd(
            "--headless", "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
            "--expect-workers", "2", "-u", "2", "-r", "2", "-t", "60s",
            "--host", endpoint_inputs.scoring_uri, "--api-key", endpoint_inputs.primary_key,
            "--max-requests", "200", "--batch-size", "4", "--slo-p95-ms", "0.001",
            "--csv", str(folder / "run"), "--html", str(folder / "report.html"), "--only-summary",
            "BatchScoringUser",
        ),
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    workers = [
        subprocess.Popen(
            _locust_cmd("--worker", "--master-host", "127.0.0.1", "--master-port", port),
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        output, _ = master.communicate(timeout=RUN_TIMEOUT)
        worker_output = [w.communicate(timeout=30)[0] for w in workers]
    finally:
        for process in (master, *workers):
            if process.poll() is None:
                process.kill()
                process.wait()
    run = Run(master.returncode, output, folder)
    # Workers see only their share, so a gate there would pass (p95 of nothing); the master's gate trips.
    assert run.code == 4, output[-3000:]
    assert "BREACHED" in output
    assert not any("BREACHED" in text for text in worker_output)
    assert (run.requests, run.failures) == (200, 0)  # 100 + 100: the budget was shared, not multiplied
    assert (folder / "report.html").is_file()
    for text in (output, *worker_output, (folder / "report.html").read_text()):
        assert endpoint_inputs.primary_key not in text


def test_the_key_stays_out_of_the_web_ui(tmp_path: Path, train_path: Path, endpoint_inputs: LocalEndpoint) -> None:
    """A secret option is masked in the UI form, but Locust embeds its value in the page; ours is left out."""
    web_port = free_port()
    process = subprocess.Popen(
        _locust_cmd(
            "--web-host", "127.0.0.1", "--web-port", str(web_port), "--autostart", "--autoquit", "0",
            "-u", "1", "-r", "1", "-t", "3s", "--host", endpoint_inputs.scoring_uri, "BenchmarkUser",
        ),
        cwd=tmp_path, env=_env(train_path, {"BANKMARKETING_API_KEY": endpoint_inputs.primary_key}),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    page = ""
    try:
        for _ in range(100):  # wait (bounded) for the web UI to answer
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/", timeout=2) as response:
                    page = response.read().decode()
                break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None:
                    break
                time.sleep(0.2)
        output, _ = process.communicate(timeout=RUN_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "batch_size" in page, output[-3000:]  # the page holds our other options...
    assert endpoint_inputs.primary_key not in page  # ...but not the key
    assert process.returncode == 0, output[-3000:]  # and the run, started with the key, had no failures


# -- blue/green: --deployment and --per-deployment ---------------------------------------------------------------


def _rows(run: Run) -> dict[str, tuple[int, int]]:
    """Each stats row's (requests, failures), by name."""
    with (run.folder / "run_stats.csv").open(newline="") as fh:
        return {r["Name"]: (int(r["Request Count"]), int(r["Failure Count"])) for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def blue_green(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    """blue and green share the traffic; green's request timeout (1 ms) is below the model's 50 ms, so every
    answer from green is its own failure and every answer from blue a 200: the report must keep them apart."""
    return bankmarketing_endpoint_factory(
        contract="inputs",
        deployments=["blue=default", "green=default,request_timeout_ms=1"],
        traffic={"blue": 50, "green": 50},
        routing_seed=3,
        model_delay_ms=50,
        worker_count=1,
    )


def _served(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]], name: str, key: str) -> int:
    return after[name].get(key, 0) - before[name].get(key, 0)


def test_per_deployment_splits_latency_and_failures_by_the_deployment_that_served(
    tmp_path: Path, train_path: Path, blue_green: LocalEndpoint
) -> None:
    before = blue_green.deployment_stats()
    run = run_locust(
        tmp_path, train_path,
        "--host", blue_green.scoring_uri, "--api-key", blue_green.primary_key, "--max-requests", "40",
        "--per-deployment", "--slo-fail-ratio", "1", "BenchmarkUser",
    )  # fmt: skip
    after = blue_green.deployment_stats()
    assert run.code == 0, run.output[-3000:]
    rows = _rows(run)
    blue, green = rows["/score [benchmark] @blue"], rows["/score [benchmark] @green"]
    assert rows["Aggregated"] == (40, green[0])
    assert blue == (_served(before, after, "blue", "requests"), 0)
    assert blue[0] == _served(before, after, "blue", "200")
    assert green == (_served(before, after, "green", "requests"),) * 2  # each one failed (408, or 429 when busy)
    assert blue[0] > 0
    assert green[0] > 0
    assert "/score [benchmark]" not in rows  # every answer named its deployment
    html = (run.folder / "report.html").read_text()
    assert "@blue" in html
    assert "@green" in html


def test_deployment_sends_every_request_to_one_side(
    tmp_path: Path, train_path: Path, blue_green: LocalEndpoint
) -> None:
    before = blue_green.deployment_stats()
    run = run_locust(
        tmp_path, train_path,
        "--host", blue_green.scoring_uri, "--max-requests", "12", "--deployment", "blue", "--per-deployment",
        "BenchmarkUser",
        env={"BANKMARKETING_API_KEY": blue_green.primary_key},
    )  # fmt: skip
    after = blue_green.deployment_stats()
    assert run.code == 0, run.output[-3000:]
    assert _rows(run)["/score [benchmark] @blue"] == (12, 0)
    assert _served(before, after, "blue", "by_header") == 12
    assert _served(before, after, "green", "requests") == 0


def test_a_bad_deployment_name_stops_the_run_before_any_request(
    tmp_path: Path, train_path: Path, endpoint_inputs: LocalEndpoint
) -> None:
    before = endpoint_inputs.stats()
    run = run_locust(
        tmp_path, train_path,
        "--host", endpoint_inputs.scoring_uri, "--max-requests", "5", "--deployment", "blue green", "BenchmarkUser",
    )  # fmt: skip
    assert run.code == 2, run.output[-3000:]
    assert "deployment name 'blue green'" in run.output
    assert _delta(before, endpoint_inputs.stats(), "requests") == 0


# -- aml_token: --token-file -------------------------------------------------------------------------------------

TOKEN_LIFETIME_S = 4
LONGER_THAN_TWO_TOKENS = "9s"


def _read_until(proc: subprocess.Popen[bytes], marker: str, timeout: float) -> str:
    """Read the raw pipe (a buffered reader would hide lines from select) until ``marker`` or the timeout."""
    assert proc.stdout is not None
    fd, seen = proc.stdout.fileno(), b""
    deadline = time.monotonic() + timeout
    while marker.encode() not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        chunk = os.read(fd, 4096) if ready else b""
        if ready and not chunk:
            break
        seen += chunk
    return seen.decode()


def test_a_token_file_renewed_by_local_serve_keeps_a_long_run_authorised(tmp_path: Path, train_path: Path) -> None:
    """``local serve --auth-mode aml_token --token-file`` renews the file at each refresh-after time; Locust's
    token cache reads it again then. Tokens live 4 s and the run 9 s: without the renewal it would meet 401s."""
    token_file = tmp_path / "token.json"
    port = free_port()
    errors = tmp_path / "serve.err"
    with errors.open("wb") as err:  # a file, not a pipe nobody reads once the run starts
        serve = subprocess.Popen(
            [sys.executable, "-m", "bankmarketing_client.cli", "local", "serve", "--workers", "1", "--port", str(port),
             "--auth-mode", "aml_token", "--token-file", str(token_file),
             "--token-lifetime-s", str(TOKEN_LIFETIME_S), "--token-refresh-after-s", str(TOKEN_LIFETIME_S // 2)],
            stdout=subprocess.PIPE, stderr=err, env=_env(train_path),
        )  # fmt: skip
    try:
        assert "ready" in _read_until(serve, "ready", 120), errors.read_text()
        first = json.loads(token_file.read_text())["accessToken"]
        run = run_locust(
            tmp_path, train_path,
            "--host", f"http://127.0.0.1:{port}/score", "--token-file", str(token_file), "-t", LONGER_THAN_TWO_TOKENS,
            "BenchmarkUser",
        )  # fmt: skip
        last = json.loads(token_file.read_text())["accessToken"]
    finally:
        serve.terminate()
        serve.wait(30)
    assert run.code == 0, run.output[-3000:]
    assert run.requests > 0
    assert run.failures == 0, run.failure_report()
    assert first != last  # the file was renewed during the run
    for text in (run.output, *(p.read_text() for p in run.folder.glob("*.csv"))):
        assert first not in text
        assert last not in text


@pytest.fixture(scope="module")
def token_endpoint(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    return bankmarketing_endpoint_factory(contract="inputs", auth_mode="aml_token", worker_count=1)


def test_an_expired_token_file_is_401_once_per_request_never_a_loop(
    tmp_path: Path, train_path: Path, token_endpoint: LocalEndpoint
) -> None:
    """Nobody renews this file: each refused request makes the cache read it once more (the same expired token),
    and the request stays a failure; the endpoint sees exactly one 401 per request."""
    token_file = tmp_path / "token.json"
    token_file.write_text(json.dumps(token_endpoint.get_token(lifetime_s=0.2)))
    time.sleep(0.5)
    before = token_endpoint.stats()
    run = run_locust(
        tmp_path, train_path,
        "--host", token_endpoint.scoring_uri, "--token-file", str(token_file), "--max-requests", "6", "BenchmarkUser",
    )  # fmt: skip
    assert run.code == 1, run.output[-3000:]
    assert (run.requests, run.failures) == (6, 6)
    assert "HTTP 401" in run.failure_report()
    assert _delta(before, token_endpoint.stats(), "401") == 6


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (None, (), "token.json"),
        ("{not json", (), "token.json"),
        ('{"accessToken": "t", "expiryTimeUtc": 9999999999}', ("--api-key", "k"), "not both"),
    ],
)
def test_a_bad_token_file_stops_the_run_before_any_request(
    tmp_path: Path, train_path: Path, token_endpoint: LocalEndpoint, content: str | None, extra: tuple[str, ...],
    message: str,
) -> None:  # fmt: skip
    token_file = tmp_path / "token.json"
    if content is not None:
        token_file.write_text(content)
    before = token_endpoint.stats()
    run = run_locust(
        tmp_path, train_path,
        "--host", token_endpoint.scoring_uri, "--contract", "inputs", "--token-file", str(token_file),
        "--max-requests", "3", *extra, "BenchmarkUser",
    )  # fmt: skip
    assert run.code == 2, run.output[-3000:]
    assert message in run.output
    assert "Traceback" not in run.output
    assert _delta(before, token_endpoint.stats(), "requests") == 0
