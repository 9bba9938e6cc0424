"""``make demo``: the original project's workflow, against the local endpoint.

Starts the local endpoint with the original (``data``) contract, sends the original ``data.json`` (two records),
prints the answer and stops, leaving no process behind.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx

from bankmarketing_client.data import resolve_train_path
from bankmarketing_client.errors import BankMarketingError

ORIGINAL_REQUEST = Path("azure-samples") / "data-2020-08-udacity-starter.json"


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
            body = request_file.read_bytes()
            response = httpx.post(
                endpoint.scoring_uri,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {endpoint.primary_key}",
                },
                timeout=30,
            )
            print(f"POST /score with {request_file.name}: HTTP {response.status_code}")
            print(f"raw body:  {response.text}")
            decoded = json.loads(json.loads(response.text))
            print(f"decoded:   {decoded}")
    except BankMarketingError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
