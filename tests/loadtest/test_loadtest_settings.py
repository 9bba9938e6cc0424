"""Locust ``--endpoint-settings``: a missing or malformed settings file stops the run at set-up (exit 2, one line).
Runs that start from a discovered file are in tests/azureml/test_v2_settings_file.py."""

from __future__ import annotations

from pathlib import Path

from test_loadtest_runs import run_locust


def test_a_malformed_settings_file_stops_the_run_at_set_up(tmp_path: Path, train_path: Path) -> None:
    settings = tmp_path / "s.json"
    settings.write_text('{"version": 1, "endpoint": "bank"}')
    run = run_locust(tmp_path, train_path, "--endpoint-settings", str(settings), "BenchmarkUser")
    assert run.code == 2, run.output[-3000:]
    assert f"endpoint settings file {settings}: auth_mode is missing" in run.output
    assert "Traceback" not in run.output


def test_a_missing_settings_file_stops_the_run_at_set_up(tmp_path: Path, train_path: Path) -> None:
    run = run_locust(tmp_path, train_path, "--endpoint-settings", str(tmp_path / "absent.json"), "BenchmarkUser")
    assert run.code == 2, run.output[-3000:]
    assert "cannot read the endpoint settings file" in run.output
    assert "Traceback" not in run.output
