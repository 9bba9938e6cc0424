"""``score --endpoint-settings``: a missing or malformed file is a user error (exit 2, one line), before any row is
sent; the file's scoring URI and deployment give way to the command line's. Scoring from a discovered file, end to
end, is in tests/azureml/test_v2_settings_file.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bankmarketing_client.cli import main
from bankmarketing_client.limits import MAX_PENDING_LIMIT
from bankmarketing_client.local.endpoint import LocalEndpoint
from batch.batch_support import WriteSubset


def _settings(path: Path, scoring_uri: str, pending_limit: object = 3) -> Path:
    data = {"version": 1, "endpoint": "bank", "scoring_uri": scoring_uri, "auth_mode": "key"}
    path.write_text(json.dumps({**data, "pending_limit": pending_limit, "deployments": {}}))
    return path


@pytest.mark.parametrize("pending_limit", [0, "many"])
def test_a_malformed_settings_file_exits_2_with_one_line_and_sends_nothing(
    scoring_env: LocalEndpoint,
    write_subset: WriteSubset,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    pending_limit: object,
) -> None:
    settings = _settings(tmp_path / "s.json", scoring_env.scoring_uri, pending_limit)
    before = scoring_env.stats().get("requests", 0)
    args = ["score", str(write_subset(rows=10)), "-o", str(tmp_path / "o.csv"), "--endpoint-settings", str(settings)]

    assert main(args) == 2

    err = capsys.readouterr().err
    assert f"endpoint settings file {settings}: pending_limit must be a whole number of at least 1" in err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert scoring_env.stats().get("requests", 0) == before
    assert not (tmp_path / "o.csv").exists()


def test_a_missing_settings_file_exits_2(write_subset: WriteSubset, tmp_path: Path) -> None:
    args = ["score", str(write_subset(rows=10)), "-o", str(tmp_path / "o.csv")]
    assert main([*args, "--endpoint-settings", str(tmp_path / "absent.json")]) == 2


def test_the_command_line_scoring_uri_wins_over_the_files(
    scoring_env: LocalEndpoint, write_subset: WriteSubset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path / "s.json", "http://127.0.0.1:9/score")  # nothing listens there
    args = ["score", str(write_subset(rows=10)), "-o", str(tmp_path / "o.csv"), "--quiet"]

    code = main([*args, "--endpoint-settings", str(settings), "--scoring-uri", scoring_env.scoring_uri])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert "concurrency 3" in out  # the file's pending limit, as the starting concurrency


def test_a_pending_limit_beyond_what_a_client_can_use_is_clamped_in_one_line(
    endpoint_inputs: LocalEndpoint, write_subset: WriteSubset, tmp_path: Path
) -> None:
    """A real CLI process: a hand-edited file asking for 100,000 pending requests (which once meant a concurrency of
    99,998 and a storm of 429s) runs at the bound, and says so in one line."""
    settings = _settings(tmp_path / "s.json", endpoint_inputs.scoring_uri, 100_000)
    args = ["score", str(write_subset(rows=50)), "-o", str(tmp_path / "o.csv"), "--endpoint-settings", str(settings)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BANKMARKETING_")}
    env.update(BANKMARKETING_API_KEY=endpoint_inputs.primary_key, BANKMARKETING_DATA=os.environ["BANKMARKETING_DATA"])

    done = subprocess.run(
        [sys.executable, "-m", "bankmarketing_client.cli", *args, "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert f"concurrency {MAX_PENDING_LIMIT}\n" in done.stdout  # not 100000
    (line,) = done.stderr.splitlines()
    assert "the pending limit of endpoint 'bank' is 100000, more than one client can use" in line
    assert f"keeping at most {MAX_PENDING_LIMIT} requests in flight" in line
    assert len((tmp_path / "o.csv").read_text().splitlines()) == 51


def test_the_bound_holds_wherever_a_pending_limit_is_used(tmp_path: Path) -> None:
    """The one rule (limits.checked_pending_limit) behind the batch tuner, Spark's budget and Locust's user count."""
    from bankmarketing_client.batch.tuner import tuner_settings
    from bankmarketing_client.settings_file import read_settings_file
    from bankmarketing_client.spark.budget import resolve_budget

    saved = read_settings_file(_settings(tmp_path / "s.json", "https://h.example/score", 100_000))
    assert tuner_settings(limits=saved).max_concurrency == MAX_PENDING_LIMIT
    assert resolve_budget(None, saved) == MAX_PENDING_LIMIT
    at_bound = read_settings_file(_settings(tmp_path / "t.json", "https://h.example/score", MAX_PENDING_LIMIT))
    assert resolve_budget(None, at_bound) == MAX_PENDING_LIMIT
