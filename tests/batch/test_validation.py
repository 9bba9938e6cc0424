"""The column-wise screen against the pydantic model: same rows accepted, same errors, same JSON sent."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pytest

from bankmarketing_client.batch.validation import check_chunk
from bankmarketing_client.data import FEATURE_COLUMNS
from bankmarketing_client.features import BankMarketingRecord, field_rules, validate_records
from batch.batch_support import read_training_rows

BAD_VALUES = [
    "abc",
    "",
    "NA",
    "57.5",
    " 57 ",
    "57.0",
    "1e3",
    "-1",
    "1e9",
    "nan",
    "inf",
    "Married",
    " married",
    "5.0",
    "1_000",
    "0x10",
    "999",
    "-0",
]


def _text_table(header: list[str], rows: list[list[str]]) -> pa.Table:
    columns = {name: [row[i] for row in rows] for i, name in enumerate(header) if name in FEATURE_COLUMNS}
    return pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})


def test_rules_come_from_the_model() -> None:
    rules = {rule.name: rule for rule in field_rules()}
    assert tuple(rules) == FEATURE_COLUMNS
    assert rules["job"].kind == "category"
    assert "admin." in rules["job"].categories
    assert rules["age"].kind == "integer"
    assert rules["age"].minimum is not None
    assert rules["euribor3m"].kind == "number"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_screen_and_model_agree_row_for_row(train_path: Path, seed: int) -> None:
    header, rows = read_training_rows(train_path, 400)
    rng = random.Random(seed)
    for row in rows[::3]:  # corrupt every third row in one or two cells
        for _ in range(rng.randint(1, 2)):
            row[rng.randrange(len(FEATURE_COLUMNS))] = rng.choice(BAD_VALUES)
    table = _text_table(header, rows)
    fast = check_chunk(table, start_row=101)
    judged = check_chunk(table, start_row=101, model_only=True)
    assert fast.valid.tolist() == judged.valid.tolist()
    assert fast.errors == judged.errors
    assert fast.records_json.to_pylist() == judged.records_json.to_pylist()
    assert 0 < fast.rejected < len(rows)
    assert {e.row for e in fast.errors} == {101 + i for i, ok in enumerate(fast.valid) if not ok}


def test_records_json_is_what_the_model_would_send(train_path: Path) -> None:
    header, rows = read_training_rows(train_path, 50)
    checked = check_chunk(_text_table(header, rows), start_row=1)
    assert checked.rejected == 0
    sent = [json.loads(text) for text in checked.records_json.to_pylist()]
    dicts = [{name: value for name, value in zip(header, row, strict=True) if name in FEATURE_COLUMNS} for row in rows]
    for row in dicts:
        for rule in field_rules():
            if rule.kind != "category":
                row[rule.name] = json.loads(row[rule.name])
    expected = [r.model_dump(by_alias=True) for r in validate_records(dicts)]
    assert sent == expected
    assert list(sent[0]) == list(FEATURE_COLUMNS)


def test_typed_columns_refuse_what_the_model_refuses() -> None:
    good = BankMarketingRecord.model_validate(_first_record()).model_dump(by_alias=True)
    table = pa.Table.from_pylist([good, good])
    table = table.set_column(table.schema.get_field_index("age"), "age", pa.array([41.0, 41.5]))
    checked = check_chunk(table, start_row=1)
    assert checked.valid.tolist() == [True, False]
    assert [(e.row, e.field) for e in checked.errors] == [(2, "age")]
    assert "not a whole number" in checked.errors[0].reason


def _first_record() -> dict[str, object]:
    from bankmarketing_client.features import CATEGORIES

    record: dict[str, object] = {name: values[0] for name, values in CATEGORIES.items()}
    record.update(
        {"age": 41, "duration": 100, "campaign": 1, "pdays": 999, "previous": 0, "emp.var.rate": 1.1}
        | {"cons.price.idx": 93.994, "cons.conf.idx": -36.4, "euribor3m": 4.857, "nr.employed": 5191.0}
    )
    return record
