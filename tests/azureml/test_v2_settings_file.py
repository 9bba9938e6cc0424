"""``discover --endpoint --settings-file`` then ``score --endpoint-settings`` and Locust ``--endpoint-settings``:
the discovered request settings are where a run starts, so nothing probes into 429s.

Everything is real: azure-ai-ml and azure-identity against the TLS stand-in of ARM (see test_v2_cli.py), which
reports a real two-deployment local endpoint with known limits; the scorer and Locust (a subprocess, so gevent
does not patch pytest) against that endpoint, whose front answers 429 exactly as Azure does and counts the
requests in flight at once (``in_flight_peak``).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from arm_standin import ArmStandin

from bankmarketing_client.cli import main
from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.local.pytest_plugin import EndpointFactory

pytest_plugins = ["arm_standin"]

LOADTEST = Path(__file__).resolve().parents[2] / "loadtest"
#: blue takes all live traffic with room for 2 x 3 x 2 = 12 pending requests; green, idle, for 2 x 1 x 1 = 2.
BLUE_LIMIT, GREEN_LIMIT = 12, 2
ROWS = 3000


@pytest.fixture(scope="module")
def two_deployments(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    # The model's delay keeps requests in flight long enough that a run really fills its concurrency.
    return bankmarketing_endpoint_factory(
        deployments=["blue,max_concurrent_requests_per_instance=3,instance_count=2", "green"],
        traffic={"blue": 100},
        max_concurrent_requests_per_instance=1,
        model_delay_ms=100,
        worker_count=1,
    )


@pytest.fixture
def discovered(
    arm_standin: ArmStandin, two_deployments: LocalEndpoint, workspace_args: list[str], tmp_path: Path
) -> tuple[Path, Path]:
    """The settings file and the key file a real ``discover --endpoint`` run wrote."""
    arm_standin.serve_local_endpoint("bank", two_deployments)
    settings, key = tmp_path / "bank.settings.json", tmp_path / "bank.key"
    args = ["discover", "--endpoint", "bank", "--settings-file", str(settings), "--key-file", str(key)]
    assert main([*args, *workspace_args]) == 0
    return settings, key


@pytest.fixture
def input_csv(train_path: Path, tmp_path: Path) -> Path:
    with train_path.open(newline="") as source:
        lines = [line for _, line in zip(range(ROWS + 1), source, strict=False)]
    path = tmp_path / "input.csv"
    path.write_text("".join(lines))
    return path


def _locust(discovered: tuple[Path, Path], train_path: Path, folder: Path, *args: str) -> tuple[int, str]:
    """A headless Locust run with ``--endpoint-settings`` and the discovered key (in the environment, never argv)."""
    settings, key = discovered
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BANKMARKETING_", "LOCUST_"))}
    env.update(BANKMARKETING_DATA=str(train_path), BANKMARKETING_API_KEY=key.read_text().strip())
    command = [
        sys.executable, "-m", "locust", "-f", str(LOADTEST), "--headless", "-t", "60s", "--only-summary",
        "--endpoint-settings", str(settings), *args,
    ]  # fmt: skip
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=90)
    return done.returncode, done.stdout + done.stderr


def test_the_settings_file_holds_the_discovered_settings_and_no_secret(
    discovered: tuple[Path, Path], two_deployments: LocalEndpoint
) -> None:
    settings, _ = discovered
    text = settings.read_text()
    data = json.loads(text)
    assert data["scoring_uri"] == two_deployments.scoring_uri
    assert (data["endpoint"], data["auth_mode"], data["deployment"]) == ("bank", "key", None)
    assert data["pending_limit"] == BLUE_LIMIT
    assert data["traffic"] == {"blue": 100, "green": 0}
    blue, green = data["deployments"]["blue"], data["deployments"]["green"]
    assert (blue["max_concurrent_requests_per_instance"], blue["instance_count"], blue["pending_limit"]) == (3, 2, 12)
    assert (green["request_timeout_ms"], green["pending_limit"]) == (5000, GREEN_LIMIT)
    for secret in (two_deployments.primary_key, two_deployments.secondary_key):
        assert secret not in text


@pytest.fixture
def score(
    discovered: tuple[Path, Path],
    input_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., tuple[int, str, str]]:
    """``score INPUT -o OUTPUT --endpoint-settings S --key-file K ARGS``, nothing from the environment: (code, out,
    err)."""
    settings, key = discovered
    for name in ("BANKMARKETING_SCORING_URI", "BANKMARKETING_API_KEY", "BANKMARKETING_DEPLOYMENT"):
        monkeypatch.delenv(name, raising=False)

    def run(output: Path, *args: str) -> tuple[int, str, str]:
        common = ["score", str(input_csv), "-o", str(output), "--quiet", "--key-file", str(key)]
        code = main([*common, "--endpoint-settings", str(settings), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_score_starts_at_the_pending_limit_and_never_goes_above_it(
    score: Callable[..., tuple[int, str, str]], two_deployments: LocalEndpoint, tmp_path: Path
) -> None:
    before = two_deployments.stats()
    output = tmp_path / "scored.csv"

    code, out, err = score(output, "--batch-size", "100")

    assert code == 0, err
    assert f"concurrency {BLUE_LIMIT}\n" in out  # where it started, and no 429 ever lowered it
    after = two_deployments.stats()
    assert after.get("429", 0) == before.get("429", 0)
    assert after.get("200", 0) - before.get("200", 0) == ROWS // 100
    # The front's own count: more at once than today's default start of 3, never more than Azure's limit.
    assert 3 < after["in_flight_peak"] <= BLUE_LIMIT
    with output.open(newline="") as scored:
        assert sum(1 for row in csv.DictReader(scored) if row["prediction"] in ("yes", "no")) == ROWS


def test_a_deployment_given_on_the_command_line_uses_that_deployments_limit(
    score: Callable[..., tuple[int, str, str]], two_deployments: LocalEndpoint, tmp_path: Path
) -> None:
    before = two_deployments.deployment_stats()["green"]

    code, out, err = score(tmp_path / "green.csv", "--batch-size", "300", "--deployment", "green")

    assert code == 0, err
    assert f"concurrency {GREEN_LIMIT}\n" in out
    after = two_deployments.deployment_stats()["green"]
    assert after.get("200", 0) - before.get("200", 0) == ROWS // 300
    assert after.get("429", 0) == before.get("429", 0)


def test_locust_takes_its_user_count_from_the_settings_file(
    discovered: tuple[Path, Path], two_deployments: LocalEndpoint, train_path: Path, tmp_path: Path
) -> None:
    _, key = discovered
    before = two_deployments.stats()

    code, output = _locust(discovered, train_path, tmp_path, "-r", "100", "--max-requests", "60", "BatchScoringUser")

    assert code == 0, output
    assert f"{BLUE_LIMIT} users: the pending limit of endpoint 'bank'" in output
    assert f'All users spawned: {{"BatchScoringUser": {BLUE_LIMIT}}}' in output
    after = two_deployments.stats()
    assert after.get("429", 0) == before.get("429", 0)
    assert after["in_flight_peak"] <= BLUE_LIMIT
    assert key.read_text().strip() not in output


def test_locust_warns_about_more_users_than_the_pending_limit(
    discovered: tuple[Path, Path], train_path: Path, tmp_path: Path
) -> None:
    args = ("-u", "3", "-r", "3", "--max-requests", "2", "--deployment", "green", "BenchmarkUser")

    code, output = _locust(discovered, train_path, tmp_path, *args)

    assert code == 0, output
    assert f"3 users exceed endpoint 'bank''s pending limit of {GREEN_LIMIT}" in output
