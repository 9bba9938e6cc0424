"""How long codegen takes, and how fast records are validated and serialised by each model.

Prints, measured side by side in one run on this machine:
* generation time of the project's two packages (``python -m codegen project`` into a temporary folder);
* records/s to validate 100,000 record dicts (training rows read by the record codec, repeated) with
  - ``validate_records``, the client's path (the model's field rules as one dict validator, records built as
    ``model_construct`` builds them; the model itself words any error),
  - pydantic's own ``TypeAdapter(list[BankMarketingRecord]).validate_python`` on the same dicts, with the
    cyclic GC running and paused (``validate_records`` pauses it while it builds records),
  - the generated attrs models (``Record.from_dict``: enum checks only, no bounds, no types);
* the same, followed by serialising (``encode_records``, the one JSON serialiser; attrs: ``to_dict``);
* the ratios to pydantic's figure. Each figure is the best of ``--repeats`` interleaved rounds, in wall-clock
  time and in this process's CPU time (the second is steadier on a machine shared with other work).

Usage: ``taskset -c 1 python bench/bench_validation.py [--records N] [--repeats R]`` (needs ``$BANKMARKETING_DATA``).
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

from pydantic import TypeAdapter  # noqa: E402

from bankmarketing_client._generated.inputs.models import Record  # noqa: E402
from bankmarketing_client.data import iter_rows, resolve_train_path  # noqa: E402
from bankmarketing_client.errors import DatasetError  # noqa: E402
from bankmarketing_client.features import (  # noqa: E402
    BankMarketingRecord,
    encode_records,
    records_from_text,
    records_to_wire,
    validate_records,
)


def load_rows(count: int) -> list[dict[str, Any]]:
    """``count`` typed wire records: the training rows, repeated."""
    base = records_to_wire(records_from_text(iter_rows(resolve_train_path(download=False))))
    return [base[i % len(base)] for i in range(count)]


def timed(action: Callable[[], object], *, gc_off: bool) -> tuple[float, float]:
    """Wall-clock and CPU seconds for one run; ``gc_off`` keeps the cyclic collector out of the way."""
    gc.collect()
    if gc_off:
        gc.disable()
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        action()
        return time.perf_counter() - wall, time.process_time() - cpu
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

    pydantic = TypeAdapter(list[BankMarketingRecord])
    # (label, action, gc off)
    actions: list[tuple[str, Callable[[], object], bool]] = [
        ("validate_records", lambda: validate_records(rows), False),
        ("pydantic TypeAdapter", lambda: pydantic.validate_python(rows), False),
        ("pydantic TypeAdapter (gc off)", lambda: pydantic.validate_python(rows), True),
        ("attrs from_dict", lambda: [Record.from_dict(row) for row in rows], False),
        ("validate_records + encode_records", lambda: encode_records(validate_records(rows)), False),
        ("pydantic validate + dump_json", lambda: pydantic.dump_json(pydantic.validate_python(rows)), False),
        ("attrs from_dict + to_dict", lambda: [Record.from_dict(row).to_dict() for row in rows], False),
    ]
    # Interleaved rounds, best of each: on a shared machine every path sees the same background load.
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.repeats):
        for label, action, gc_off in actions:
            wall, cpu = timed(action, gc_off=gc_off)
            old_wall, old_cpu = best.get(label, (float("inf"), float("inf")))
            best[label] = (min(old_wall, wall), min(old_cpu, cpu))

    print(f"{n:,} records, best of {args.repeats}, records/s (wall clock | CPU time):")
    width = max(len(label) for label in best)
    for label, (wall, cpu) in best.items():
        print(f"  {label:<{width}}  {n / wall:>10,.0f} | {n / cpu:>10,.0f}")
    for ours, theirs in (
        ("validate_records", "pydantic TypeAdapter"),
        ("validate_records", "pydantic TypeAdapter (gc off)"),
        ("validate_records + encode_records", "pydantic validate + dump_json"),
    ):
        wall = best[theirs][0] / best[ours][0]
        cpu = best[theirs][1] / best[ours][1]
        print(f"{ours} / {theirs}: {wall:.2f}x wall, {cpu:.2f}x CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
