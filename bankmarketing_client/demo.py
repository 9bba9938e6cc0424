"""``make demo``: the original project's workflow, then the whole training file, against the local endpoint.

1. Starts the local endpoint with the original (``data``) contract.
2. Sends the original ``data.json`` (two records) through the typed client: the raw, double-encoded answer and
   the decoded predictions.
3. Scores the whole training CSV through ``bankmarketing-client score`` (the CLI's own ``main``; the key travels
   in the environment, never in argv), prints its summary and the accuracy of the predictions against the file's
   ``y`` column.
4. Stops the endpoint, leaving no process behind.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from pathlib import Path

from bankmarketing_client.data import TARGET, resolve_train_path
from bankmarketing_client.errors import BankMarketingError

ORIGINAL_REQUEST = Path("azure-samples") / "data-2020-08-udacity-starter.json"


def original_request(scoring_uri: str, key: str, request_file: Path) -> None:
    """The seed project's ``endpoint.py``: post data.json, print the answer (here via the typed client)."""
    from bankmarketing_client.client import ScoringClient
    from bankmarketing_client.contract import records_from_document

    document = json.loads(request_file.read_text(encoding="utf-8"))
    with ScoringClient(scoring_uri, key) as client:
        raw = client.request(document)
        print(f"POST /score with {request_file.name}: HTTP {raw.status}")
        print(f"raw body:  {raw.text}")
        predictions = client.predict(records_from_document(document, request_file.name))
        print(
            f"decoded:   {[p.label for p in predictions]} (contract {client.contract.family if client.contract else '?'})"
        )


def accuracy(train_path: Path, scored: Path) -> tuple[float, int]:
    """Share of rows whose prediction equals the file's own ``y``, over the rows that got a prediction."""
    right = total = 0
    with (
        train_path.open(newline="", encoding="utf-8") as truth_fh,
        scored.open(newline="", encoding="utf-8") as scored_fh,
    ):
        for truth, row in zip(csv.DictReader(truth_fh), csv.DictReader(scored_fh), strict=True):
            if row["prediction"]:
                total += 1
                right += row["prediction"] == truth[TARGET]
    return (right / total if total else 0.0), total


def score_training_file(scoring_uri: str, key: str, train_path: Path, folder: Path) -> int:
    from bankmarketing_client.cli import main as cli_main

    output = folder / "bankmarketing_train.scored.csv"
    argv = ["score", str(train_path), "-o", str(output), "--errors", str(folder / "errors.csv")]
    print(f"\n$ bankmarketing-client {' '.join(argv)}")
    saved = {name: os.environ.get(name) for name in ("BANKMARKETING_SCORING_URI", "BANKMARKETING_API_KEY")}
    os.environ["BANKMARKETING_SCORING_URI"] = scoring_uri
    os.environ["BANKMARKETING_API_KEY"] = key
    try:
        code = cli_main(argv)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    print(f"exit code: {code}")
    if output.is_file():
        share, rows = accuracy(train_path, output)
        print(f"accuracy against the file's '{TARGET}' column: {share:.4f} over {rows:,} rows")
        print("  (the model was trained on these rows; 'bankmarketing-client local model' scores held-out rows)")
    return code


def main() -> int:
    from bankmarketing_client.local import LocalEndpoint

    try:
        train_path = resolve_train_path()
        request_file = train_path.parent / ORIGINAL_REQUEST
        if not request_file.is_file():
            raise BankMarketingError(f"the original request file {request_file} was not found")
        print(f"dataset:  {train_path}")
        with LocalEndpoint(contract="data", data_path=train_path) as endpoint:
            print(f"endpoint: {endpoint.scoring_uri} (contract 'data', key generated, not shown)")
            original_request(endpoint.scoring_uri, endpoint.primary_key, request_file)
            with tempfile.TemporaryDirectory(prefix="bankmarketing-demo-") as folder:
                code = score_training_file(endpoint.scoring_uri, endpoint.primary_key, train_path, Path(folder))
        print("endpoint stopped")
    except BankMarketingError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
