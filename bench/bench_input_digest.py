"""What the resume's input digest costs per GB: the scorer's read of a CSV with and without it, side by side.

A checkpoint records the SHA-256 of the part of the input read so far, fed by the reader as it reads (no second
read during a run), and a resume hashes that part once more to check it is unchanged. Printed, per GB of CSV
(best of the rounds, the variants interleaved so that drift on a shared machine hits each alike):

1. ``read``: the scorer's input path alone (bounded lines, Arrow's CSV reader, every table pulled), no digest;
2. ``read + digest``: the same with the running digest fed, as a run does; the difference is the run's cost;
3. ``digest only``: the digest fed the file's size in the reader's 128 KiB blocks, from memory: the run's cost
   without the read's noise (on a shared machine 1 and 2 differ by less than their spread);
4. ``resume check``: hashing the whole file again, as a resume whose checkpoint vouches for all of it does;
5. ``raw read``: the file's bytes read in 1 MiB blocks and nothing else (the floor for 4).

No endpoint is involved, so one core is enough: the process pins itself to core 1 (``taskset -c 1`` if not).
The CSV is the training rows repeated, in a temporary folder deleted afterwards (never committed).

    python bench/bench_input_digest.py               # 1 GB, 3 rounds
    python bench/bench_input_digest.py --gb 0.25 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_batch import repeat_rows

from bankmarketing_client.batch.prefix import Prefix, PrefixDigest
from bankmarketing_client.batch.readers import open_input
from bankmarketing_client.data import MAX_LINE_BYTES, resolve_train_path


def read_tables(path: Path, digest: PrefixDigest | None) -> None:
    for _ in open_input(path).iter_tables(digest=digest):
        pass


def raw_read(path: Path) -> None:
    with path.open("rb", buffering=0) as fh:
        while fh.read(1 << 20):
            pass


def digest_only(path: Path, size: int) -> None:
    """What :class:`BoundedLines` adds per read: one ``feed`` of a block it already holds."""
    digest = PrefixDigest(path)
    block = os.urandom(MAX_LINE_BYTES)
    for position in range(0, size, len(block)):
        digest.feed(position, block)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gb", type=float, default=1.0, help="size of the CSV in GB (10^9 bytes)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and 1 in os.sched_getaffinity(0):
        os.sched_setaffinity(0, {1})
    train = resolve_train_path()
    per_row = train.stat().st_size / max(1, sum(1 for _ in train.open("rb")) - 1)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input.csv"
        repeat_rows(train, path, int(args.gb * 1e9 / per_row))
        size = path.stat().st_size
        whole = PrefixDigest(path)
        whole.extend_to(size)
        mark = whole.mark()

        def resume_check() -> None:
            assert PrefixDigest.resumed(path, Prefix(mark.length, mark.sha256)) is not None

        def with_digest() -> None:
            digest = PrefixDigest(path)
            read_tables(path, digest)
            assert digest.mark() == mark, "the run's digest must cover the whole file once it is read"

        variants: dict[str, Callable[[], None]] = {
            "read": lambda: read_tables(path, None),
            "read + digest": with_digest,
            "digest only": lambda: digest_only(path, size),
            "resume check": resume_check,
            "raw read": lambda: raw_read(path),
        }
        best = {name: float("inf") for name in variants}
        raw_read(path)  # warm the page cache: every variant reads from memory
        for _ in range(args.rounds):
            for name, action in variants.items():
                started = time.perf_counter()
                action()
                best[name] = min(best[name], time.perf_counter() - started)
    gb = size / 1e9
    print(f"CSV of {size / 1e9:.2f} GB, best of {args.rounds} rounds, one core, page cache warm")
    print(f"{'variant':<16} {'s per GB':>9} {'MB/s':>8}")
    for name, seconds in best.items():
        print(f"{name:<16} {seconds / gb:>9.3f} {size / seconds / 1e6:>8.0f}")
    extra = best["digest only"] / gb
    print(f"digest during a run: +{extra:.3f} s per GB, {extra / (best['read'] / gb):.1%} of the read it rides on")
    print(f"resume check: {best['resume check'] / gb:.3f} s per GB of input already read")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
