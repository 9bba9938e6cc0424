"""The feature model: what it accepts, what it refuses and how it words the refusal."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from pydantic import ValidationError

from bankmarketing_client.data import FEATURE_COLUMNS, iter_rows, resolve_train_path
from bankmarketing_client.errors import RecordValidationError, RowError
from bankmarketing_client.features import (
    CATEGORIES,
    FEATURE_NAMES,
    BankMarketingRecord,
    records_from_text,
    records_to_wire,
    validate_records,
)

SAMPLE_FILES = (
    "data-2020-08-udacity-starter.json",
    "data-2021-06-schema-order.json",
    "data-2023-01-inputs-globalparams-single.json",
    "data-2023-07-inputs-globalparams-benchmarked.json",
    "data-2023-07-inputs-only.json",
)


@pytest.fixture(scope="module")
def train_rows() -> list[dict[str, object]]:
    return records_to_wire(records_from_text(itertools.islice(iter_rows(resolve_train_path(download=False)), 2000)))


@pytest.fixture
def good() -> dict[str, Any]:
    return {
        "age": 41,
        "job": "technician",
        "marital": "married",
        "education": "high.school",
        "default": "no",
        "housing": "yes",
        "loan": "no",
        "contact": "cellular",
        "month": "may",
        "day_of_week": "mon",
        "duration": 120,
        "campaign": 2,
        "pdays": 999,
        "previous": 0,
        "poutcome": "nonexistent",
        "emp.var.rate": -1.8,
        "cons.price.idx": 92.893,
        "cons.conf.idx": -46.2,
        "euribor3m": 1.299,
        "nr.employed": 5099.1,
    }


def _errors(rows: list[Any], **kwargs: Any) -> tuple[RowError, ...]:
    with pytest.raises(RecordValidationError) as info:
        validate_records(rows, **kwargs)
    return info.value.errors


def test_feature_names_are_the_swagger_columns_in_order() -> None:
    assert FEATURE_NAMES == FEATURE_COLUMNS


def test_training_rows_validate_and_round_trip(train_rows: list[dict[str, object]]) -> None:
    records = validate_records(train_rows)
    assert len(records) == len(train_rows)
    assert records_to_wire(records) == train_rows
    assert [list(r.to_wire()) for r in records[:3]] == [list(FEATURE_NAMES)] * 3


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_azure_sample_payloads_validate(shared_data: Path, name: str) -> None:
    body = json.loads((shared_data / "azure-samples" / name).read_text())
    rows = body["Inputs"]["data"] if "Inputs" in body else body["data"]
    records = validate_records(rows)
    assert [r.to_wire() for r in records] == [{k: row[k] for k in FEATURE_NAMES} for row in rows]


def test_sample_ages_17_and_87_are_accepted(good: dict[str, Any]) -> None:
    records = validate_records([{**good, "age": 17}, {**good, "age": 87}])
    assert [r.age for r in records] == [17, 87]


def test_attribute_names_and_records_are_accepted(good: dict[str, Any]) -> None:
    by_name = {k.replace(".", "_"): v for k, v in good.items()}
    record = BankMarketingRecord.model_validate(by_name)
    again = validate_records([record, MappingProxyType(good)])
    assert again[0] is record
    assert again[1] == record
    assert record.emp_var_rate == -1.8


def test_unknown_category_message_lists_the_allowed_values(good: dict[str, Any]) -> None:
    errors = _errors([good] * 16 + [{**good, "job": "astronaut"}])
    assert errors == (RowError(17, "job", "'astronaut' is not one of " + ", ".join(CATEGORIES["job"])),)
    assert str(errors[0]).startswith("row 17, job: 'astronaut' is not one of admin., blue-collar, ")


def test_unknown_category_opt_out_keeps_the_value(good: dict[str, Any]) -> None:
    records = validate_records([{**good, "month": "jan"}], allow_unknown_categories=True)
    assert str(records[0].month) == "jan"
    assert records[0].to_wire()["month"] == "jan"
    assert records_to_wire(records)[0]["month"] == "jan"
    # the opt-out relaxes categories only: bounds and types are still checked
    assert _errors([{**good, "month": "jan", "age": -1}], allow_unknown_categories=True)[0].field == "age"


def test_every_bad_row_and_field_is_named_with_wire_names(good: dict[str, Any]) -> None:
    rows = [
        good,
        {**good, "emp.var.rate": "high", "nr.employed": 51.0},
        {k: v for k, v in good.items() if k != "cons.price.idx"},
        {**good, "Age": 30},
    ]
    errors = _errors(rows, start_row=10)
    assert [(e.row, e.field) for e in errors] == [
        (11, "emp.var.rate"),
        (11, "nr.employed"),
        (12, "cons.price.idx"),
        (13, "Age"),
    ]
    assert errors[1].reason == "51.0 is below the minimum 4831.35"
    assert errors[2].reason == "required but missing"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("age", "41", "'41' is not an integer"),
        ("age", True, "True is not an integer"),
        ("age", 41.5, "41.5 is not a whole number"),
        ("age", 200, "200 is above the maximum 139"),
        ("pdays", 1000, "1000 is above the maximum 999"),
        ("euribor3m", float("inf"), "inf is not a finite number"),
        ("euribor3m", False, "False is not a number"),
        ("euribor3m", "1.3", "'1.3' is not a number"),
        ("marital", 1, "1 is not one of divorced, married, single, unknown"),
    ],
)
def test_type_and_bound_refusals(good: dict[str, Any], field: str, value: object, reason: str) -> None:
    assert _errors([{**good, field: value}]) == (RowError(1, field, reason),)


def test_an_int_too_large_for_a_float_is_a_row_error(good: dict[str, Any]) -> None:
    """10**400 is a whole number no float can hold: converting it raised OverflowError out of validation."""
    rows = [good, {**good, "emp.var.rate": 10**400, "age": 41.0}, {**good, "age": 10**400}]
    errors = _errors(rows)
    assert [(e.row, e.field) for e in errors] == [(2, "emp.var.rate"), (3, "age")]
    assert "too large for a floating-point number" in errors[0].reason
    assert all(len(e.reason) < 120 for e in errors)  # a 401-digit value is shortened, not quoted whole


def test_whole_floats_become_ints_and_ints_become_floats(good: dict[str, Any]) -> None:
    row = {**good, "age": 41.0, "nr.employed": 5099}
    record = validate_records([good, MappingProxyType(row)])[1]
    assert (record.age, type(record.age)) == (41, int)
    assert (record.nr_employed, type(record.nr_employed)) == (5099.0, float)
    assert type(row["age"]) is float  # the caller's row is not modified


def test_numpy_scalars_are_taken_as_the_numbers_they_hold(good: dict[str, Any]) -> None:
    import numpy as np

    row = {**good, "age": np.int64(41), "campaign": np.float64(3.0), "euribor3m": np.float32(1.25)}
    record = validate_records([row])[0]
    assert (record.age, type(record.age)) == (41, int)
    assert (record.campaign, type(record.campaign)) == (3, int)
    assert (record.euribor3m, type(record.euribor3m)) == (1.25, float)
    assert _errors([{**good, "loan": "no", "age": np.bool_(True)}])[0].field == "age"


def test_whole_floats_do_not_hide_other_errors(good: dict[str, Any]) -> None:
    rows = [{**good, "pdays": 999.0}, {**good, "age": 200.0, "campaign": 2.5}, {**good, "job": "astronaut"}]
    errors = _errors(rows)
    assert [str(e) for e in errors[:2]] == [
        "row 2, age: 200 is above the maximum 139",
        "row 2, campaign: 2.5 is not a whole number",
    ]
    assert [(e.row, e.field) for e in errors] == [(2, "age"), (2, "campaign"), (3, "job")]


def test_a_row_that_is_not_a_mapping_is_refused(good: dict[str, Any]) -> None:
    errors = _errors([good, ["not", "a", "record"]])
    assert errors == (RowError(2, "(record)", "expected a mapping of feature names to values, got list"),)


def test_pdays_documents_its_sentinel() -> None:
    description = BankMarketingRecord.model_fields["pdays"].description or ""
    assert "999" in description
    assert "never contacted" in description


def test_records_are_frozen(good: dict[str, Any]) -> None:
    record = validate_records([good])[0]
    with pytest.raises(ValueError, match="frozen"):
        record.age = 5


# -- the fast path: the model's own field rules over dicts, records built as model_construct builds them ------

ODD_VALUES: list[object] = [
    None, True, False, 0, -1, 41, 41.0, 41.5, 10**400, float("nan"), float("inf"), "41", "", "married", "Married",
    "jan", 5099, 5099.1, 1e9, -46.2, 1.299, [1], {"a": 1},
]  # fmt: skip


def _random_rows(rng: random.Random, good: dict[str, Any]) -> list[Any]:
    rows: list[Any] = []
    for _ in range(rng.randint(1, 4)):
        row: dict[str, Any] = dict(good)
        for _ in range(rng.choice([0, 0, 1, 2])):
            row[rng.choice(FEATURE_NAMES)] = rng.choice(ODD_VALUES)
        shape = rng.random()
        if shape < 0.05:
            row.pop(rng.choice(FEATURE_NAMES))
        elif shape < 0.10:
            row["Age"] = 30
        elif shape < 0.15:
            row["emp_var_rate"] = row.pop("emp.var.rate")  # an attribute name instead of the wire name
        elif shape < 0.20:
            row["emp_var_rate"] = row["emp.var.rate"]  # both names: one key too many
        rows.append(MappingProxyType(row) if shape > 0.95 else row)
    return rows


@pytest.mark.parametrize("lenient", [False, True])
def test_the_fast_path_accepts_exactly_what_the_model_accepts_and_builds_the_same_records(
    good: dict[str, Any], lenient: bool
) -> None:
    from bankmarketing_client import features

    model = features._LENIENT_LIST if lenient else features._STRICT_LIST
    rng = random.Random(12)
    accepted = refused = 0
    for _ in range(3000):
        rows = _random_rows(rng, good)
        fast = features._valid_as_they_stand(rows, lenient=lenient)
        try:
            judged = model.validate_python([dict(r) for r in rows])
        except ValidationError:
            assert fast is None, rows  # never more lenient than the model
            refused += 1
            continue
        assert fast is not None, rows  # a batch the model takes as it stands takes the fast path
        accepted += 1
        for built, reference in zip(fast, judged, strict=True):
            assert type(built) is BankMarketingRecord
            assert list(built.__dict__.items()) == list(reference.__dict__.items())
            assert [type(v) for v in built.__dict__.values()] == [type(v) for v in reference.__dict__.values()]
            assert built.model_fields_set == reference.model_fields_set
            assert (built.__pydantic_extra__, built.__pydantic_private__) == (None, None)
            assert features.encode_records([built]) == model.dump_json([reference], by_alias=True)  # type: ignore[list-item]
    assert accepted > 300
    assert refused > 300


def test_the_fast_path_refuses_a_model_it_cannot_mirror() -> None:
    """The fast path runs the model's field schemas only: a model validator would be skipped, so it is refused."""
    from pydantic import BaseModel, model_validator

    from bankmarketing_client import features

    class Checked(BaseModel):
        age: int

        @model_validator(mode="after")
        def _check(self) -> Checked:
            return self

    with pytest.raises(TypeError, match="not a plain model"):
        features._fields_validator(Checked)
    assert not BankMarketingRecord.__pydantic_decorators__.model_validators
    assert not BankMarketingRecord.__pydantic_decorators__.field_validators


def test_records_of_one_call_stay_independent(good: dict[str, Any]) -> None:
    """The fast path shares one field-name set among a call's records: copying one must leave the others alone."""
    first, second = validate_records([good, good])
    changed = first.model_copy(update={"age": 50})
    assert (changed.age, first.age, second.age) == (50, 41, 41)
    assert first.model_fields_set == second.model_fields_set == set(BankMarketingRecord.model_fields)
    assert first.__dict__ is not second.__dict__
