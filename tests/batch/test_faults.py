"""The whole training file through injected faults: every row once, predictions identical to a fault-free run."""

from __future__ import annotations

from pathlib import Path

from bankmarketing_client.batch import score_file
from bankmarketing_client.local.endpoint import LocalEndpoint


def test_training_file_through_faults_matches_a_clean_run(
    endpoint_inputs: LocalEndpoint, faulty_endpoint: LocalEndpoint, train_path: Path, tmp_path: Path
) -> None:
    clean = tmp_path / "clean.csv"
    faulty = tmp_path / "faulty.csv"
    reference = score_file(
        train_path, clean, scoring_uri=endpoint_inputs.scoring_uri, api_key=endpoint_inputs.primary_key
    )
    before = faulty_endpoint.stats()
    summary = score_file(
        train_path, faulty, scoring_uri=faulty_endpoint.scoring_uri, api_key=faulty_endpoint.primary_key
    )
    after = faulty_endpoint.stats()
    assert reference.rows == summary.rows == 32950
    assert summary.ok
    assert faulty.read_bytes() == clean.read_bytes()
    injected = {kind: after.get(kind, 0) - before.get(kind, 0) for kind in ("fault_503", "fault_reset", "fault_429")}
    assert all(count > 0 for count in injected.values()), injected
    assert summary.retries >= sum(injected.values())
