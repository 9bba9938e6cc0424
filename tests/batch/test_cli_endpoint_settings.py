"""``score --endpoint-settings``: a missing or malformed file is a user error (exit 2, one line), before any row is
sent; the file's scoring URI and deployment give way to the command line's. Scoring from a discovered file, end to
end, is in tests/azureml/test_v2_settings_file.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bankmarketing_client.cli import main
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
