"""Engine behaviour the real endpoint cannot be made to show on demand: a model that refuses one row of a batch.

The local endpoint's model accepts every record our validation accepts, so a 424 for one bad row inside a batch
needs a mock transport; the test checks that the batch is bisected down to that row and every other row scored.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from bankmarketing_client.batch import score_file
from bankmarketing_client.client import AsyncScoringClient
from batch.batch_support import WriteSubset, read_csv_rows

POISON_AGE = 77


def _handler(request: httpx.Request) -> httpx.Response:
    records = json.loads(request.content)["Inputs"]["data"]
    if any(record["age"] == POISON_AGE for record in records):
        headers = {"ms-azureml-model-error-statuscode": "500", "ms-azureml-model-error-reason": "boom"}
        return httpx.Response(424, json={"message": "An unexpected error occurred in scoring script"}, headers=headers)
    return httpx.Response(200, json={"Results": [[0.75, 0.25] for _ in records]})


def test_a_row_the_model_refuses_is_isolated_by_bisection(write_subset: WriteSubset, tmp_path: Path) -> None:
    source = write_subset(rows=64)
    lines = source.read_text().splitlines()
    header = lines[0].split(",")
    row = lines[30].split(",")
    row[header.index("age")] = str(POISON_AGE)
    lines[30] = ",".join(row)
    source.write_text("\n".join(lines) + "\n")
    client = AsyncScoringClient(
        "http://scoring.invalid/score",
        "key",
        contract="inputs",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(_handler)),
    )
    errors = tmp_path / "errors.csv"
    summary = score_file(source, tmp_path / "out.csv", errors=errors, client=client, batch_size=64)
    assert (summary.scored, summary.failed, summary.rejected) == (63, 1, 0)
    assert [(r["row"], r["field"]) for r in read_csv_rows(errors)] == [("30", "(endpoint)")]
    out = read_csv_rows(tmp_path / "out.csv")
    assert [r["prediction"] for r in out].count("") == 1
    assert out[29]["prediction"] == ""


def test_fast_probability_decoding_equals_the_contract_decoder() -> None:
    import random

    from bankmarketing_client.batch.engine import _fast_pairs
    from bankmarketing_client.contract import decode_results, to_predictions

    rng = random.Random(3)
    pairs = [[1 - p, p] for p in (rng.random() for _ in range(500))] + [[0.5, 0.5], [1.0, 0.0]]
    for body in (
        json.dumps({"Results": pairs}).encode(),
        json.dumps({"Results": pairs}, separators=(",", ":")).encode(),
    ):
        fast = _fast_pairs(body, len(pairs))
        assert fast is not None
        slow = to_predictions(decode_results(body), len(pairs), proba=True)
        assert fast.labels == [p.label for p in slow]
        assert fast.probabilities == [p.probability for p in slow]
    assert _fast_pairs(json.dumps({"Results": pairs[:3]}).encode(), 4) is None
    assert _fast_pairs(b'"{\\"error\\": \\"bad\\"}"', 1) is None
