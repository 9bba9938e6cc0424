"""How long codegen takes, and how fast records are validated and serialised by each model.

Prints, measured side by side in one run on this machine:
* generation time of the project's two packages (``python -m codegen project`` into a temporary folder);
* records/s to validate and then serialise 100,000 records (training rows, repeated) with
  - the pydantic model (``validate_records`` + ``records_to_wire``: one TypeAdapter over the list),
  - the generated attrs models (``Record.from_dict`` + ``to_dict``: enum checks only, no bounds, no types).

Usage: ``python bench/bench_validation.py [--records N] [--repeats R]`` (needs ``$BANKMARKETING_DATA``).
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # codegen/ is a dev tool that lives in the checkout

from bankmarketing_client._generated.inputs.models import Record  # noqa: E402
from bankmarketing_client.data import iter_rows, resolve_train_path  # noqa: E402
from bankmarketing_client.errors import DatasetError  # noqa: E402
from bankmarketing_client.features import records_from_text, records_to_wire, validate_records  # noqa: E402


def load_rows(count: int) -> list[dict[str, Any]]:
    """``count`` typed wire records: the training rows, repeated."""
    base = records_to_wire(records_from_text(iter_rows(resolve_train_path(download=False))))
    return [base[i % len(base)] for i in range(count)]


def timed(action: Callable[[], object], *, gc_off: bool) -> float:
    """Seconds for one run; ``gc_off`` keeps the cyclic collector out of the way, as a big batch job may."""
    gc.collect()
    if gc_off:
        gc.disable()
    try:
        started = time.perf_counter()
        action()
        return time.perf_counter() - started
    finally:
        gc.enable()


def time_generation() -> float:
    from codegen.project import generate_all

    with tempfile.TemporaryDirectory(prefix="bench-codegen-") as tmp:
        started = time.perf_counter()
        generate_all(Path(tmp) / "_generated")
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-generation", action="store_true")
    args = parser.parse_args()

    if not args.skip_generation:
        seconds = time_generation()
        print(f"codegen: both packages (inputs, data) generated in {seconds:.2f} s")

    try:
        rows = load_rows(args.records)
    except DatasetError as exc:
        print(f"bench_validation: {exc}", file=sys.stderr)
        return 2
    n = len(rows)

    def pydantic_round_trip() -> object:
        return records_to_wire(validate_records(rows))

    def pydantic_validate() -> object:
        return validate_records(rows)

    def attrs_round_trip() -> object:
        return [record.to_dict() for record in [Record.from_dict(row) for row in rows]]

    def attrs_from_dict() -> object:
        return [Record.from_dict(row) for row in rows]

    actions: dict[str, Callable[[], object]] = {
        "pydantic validate + serialise": pydantic_round_trip,
        "pydantic validate only": pydantic_validate,
        "attrs from_dict + to_dict": attrs_round_trip,
        "attrs from_dict only": attrs_from_dict,
    }
    # Interleaved rounds, best of each: on a shared machine every model sees the same background load.
    best: dict[str, float] = {}
    for _ in range(args.repeats):
        for label, action in actions.items():
            for gc_off in (False, True):
                key = label + (" (gc off)" if gc_off else "")
                best[key] = min(best.get(key, float("inf")), timed(action, gc_off=gc_off))
    results = {label: n / seconds for label, seconds in best.items()}

    print(f"{n:,} records, best of {args.repeats}:")
    width = max(len(label) for label in results)
    for label, rate in results.items():
        print(f"  {label:<{width}}  {rate:>10,.0f} records/s")
    for suffix in ("", " (gc off)"):
        ratio = results["attrs from_dict + to_dict" + suffix] / results["pydantic validate + serialise" + suffix]
        print(f"attrs / pydantic, validate + serialise{suffix}: {ratio:.2f}x (attrs checks categories only)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
