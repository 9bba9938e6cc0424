"""One rule for odd text cells, whichever way a CSV row is read: the same value or the same named error.

The entry points that read text: the codec itself (``records_from_text``), the load test's dataset sampler, the
benchmark's row loader, batch scoring's reader and column screen (Arrow, typed and text columns), and codegen's
domain reader. Each gets a one-row CSV holding the odd cell and must agree with the table below.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

from bankmarketing_client.batch.readers import open_input
from bankmarketing_client.batch.validation import check_chunk
from bankmarketing_client.errors import DatasetError, RecordValidationError, RowError
from bankmarketing_client.features import records_from_text

ROOT = Path(__file__).resolve().parent.parent

#: (column, cell, the value read, or the reason of the one error).
CASES: list[tuple[str, str, int | float | str]] = [
    ("age", "57", 57),
    ("age", "57.0", 57),
    ("age", " 57 ", 57),
    ("age", "+57", 57),
    ("age", "1e3", "1000 is above the maximum 139"),
    ("age", "1e1", 10),
    ("age", "", "required but missing"),
    ("age", "NA", "required but missing"),
    ("age", "57.5", "57.5 is not a whole number"),
    ("age", "abc", "'abc' is not an integer"),
    ("age", "1_000", "'1_000' is not an integer"),
    ("euribor3m", "1", 1.0),
    ("euribor3m", " 1.5 ", 1.5),
    ("euribor3m", "1e0", 1.0),
    ("euribor3m", "", "required but missing"),
    ("euribor3m", "NA", "required but missing"),
    ("euribor3m", "nan", "nan is not a finite number"),
    ("euribor3m", "abc", "'abc' is not a number"),
    ("euribor3m", "1e3", "1000.0 is above the maximum 7.251"),
    ("marital", "married", "married"),
    ("marital", " married", "' married' is not one of divorced, married, single, unknown"),
    ("marital", "", "required but missing"),
]
IDS = [f"{column}={cell!r}" for column, cell, _ in CASES]


def _one_row_csv(train_path: Path, tmp_path: Path, column: str, cell: str) -> Path:
    header, row = train_path.read_text().splitlines()[:2]
    names = header.split(",")
    cells = row.split(",")
    cells[names.index(column)] = f'"{cell}"' if cell.strip() != cell else cell
    path = tmp_path / "train.csv"
    path.write_text(f"{header}\n{','.join(cells)}\n")
    return path


def _read_by_codec(path: Path, column: str) -> object:
    from bankmarketing_client.data import iter_rows

    try:
        (record,) = records_from_text(iter_rows(path))
    except RecordValidationError as exc:
        return _only_error(exc.errors, column, row=1)
    return record.to_wire()[column]


def _read_by_load_test(path: Path, column: str) -> object:
    sys.path.insert(0, str(ROOT / "loadtest"))
    try:
        _payloads = importlib.import_module("_payloads")  # a top-level module of loadtest/, as Locust loads it
    finally:
        sys.path.remove(str(ROOT / "loadtest"))
    try:
        (record,) = _payloads.sample_records(1, seed=1, dataset=path)
    except DatasetError as exc:
        return str(exc).removeprefix(f"{path}: row 2, {column}: ")  # the whole message if the place is wrong
    return record[column]


def _read_by_bench(path: Path, column: str, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("BANKMARKETING_DATA", str(path))
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    bench_validation = importlib.import_module("bench_validation")

    try:
        (record,) = bench_validation.load_rows(1)
    except RecordValidationError as exc:
        return _only_error(exc.errors, column, row=1)
    return record[column]


def _read_by_batch(path: Path, column: str) -> object:
    (table,) = list(open_input(path).iter_tables())
    checked = check_chunk(table, start_row=1)
    if checked.errors:
        return _only_error(checked.errors, column, row=1)
    (text,) = checked.records_json.to_pylist()
    return json.loads(text)[column]


def _read_by_codegen(path: Path, column: str) -> object:
    from codegen.domain import derive_domain

    try:
        domain = derive_domain(path)
    except DatasetError as exc:
        return str(exc).removeprefix(f"{path}: line 2, {column}: ")  # the whole message if the place is wrong
    return domain.numeric[column].observed_min


def _only_error(errors: tuple[RowError, ...] | list[RowError], column: str, *, row: int) -> str:
    (error,) = errors
    assert (error.row, error.field) == (row, column)
    return error.reason


@pytest.mark.parametrize(("column", "cell", "expected"), CASES, ids=IDS)
def test_every_text_reader_agrees_on_the_cell(
    train_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, column: str, cell: str, expected: object
) -> None:
    path = _one_row_csv(train_path, tmp_path, column, cell)
    seen = {
        "codec": _read_by_codec(path, column),
        "load test": _read_by_load_test(path, column),
        "bench": _read_by_bench(path, column, monkeypatch),
        "batch": _read_by_batch(path, column),
    }
    assert seen == dict.fromkeys(seen, expected)
    # Batch sends JSON text rendered by Arrow, which writes the float 1.0 as 1 (JSON has one number type).
    assert all(type(value) is type(expected) for reader, value in seen.items() if reader != "batch")


NUMBER_CASES = [case for case in CASES if case[0] != "marital"]  # codegen takes every category the data shows


@pytest.mark.parametrize(("column", "cell", "expected"), NUMBER_CASES, ids=[f"{c}={v!r}" for c, v, _ in NUMBER_CASES])
def test_codegen_reads_numbers_by_the_same_rule(
    train_path: Path, tmp_path: Path, column: str, cell: str, expected: object
) -> None:
    """Codegen derives the bounds, so it checks none: a cell the model refuses only for its size is read."""
    path = _one_row_csv(train_path, tmp_path, column, cell)
    if isinstance(expected, str) and "maximum" in expected:
        expected = float(cell)
    elif isinstance(expected, int | float):
        expected = float(expected)  # the domain holds every range as floats
    assert _read_by_codegen(path, column) == expected
