"""Validated bank-marketing feature records: what the client checks before anything is sent.

The swagger Azure generates carries only types, so the domain rules come from the training data (see
``codegen/README.md`` for how they are derived):

* **Categories** are ``Literal`` types holding exactly the values seen in the training data. A value the data
  has never shown (``job='astronaut'``, a typo, ``'Married'``) is refused by default, because the model would
  silently treat it as missing and give a quietly wrong answer. ``allow_unknown_categories=True`` lets such
  values through unchanged for callers who know the deployed model was trained on more data.
* **Numeric bounds** are the training range widened by half its span on each side (counts never below 0), so
  that unit mistakes and swapped columns are caught while plausible new values still pass.
* **Types**: integers accept ints and whole floats (``5.0`` -> ``5``, as JSON from pandas often gives), never
  strings or booleans; floats accept ints and floats, never strings, booleans, NaN or infinity. The model itself
  takes numbers strictly (no Python callback per field, ~35% faster); :func:`validate_records` converts whole
  floats and numpy scalars (``numpy.int64``, ``numpy.float32``) in a second pass, only when a batch has any.
* ``pdays = 999`` means "never contacted before"; it is the only value above the real day counts.
* Unknown keys are refused (a misspelt column must not be dropped silently); missing keys are refused.

Validation runs one pydantic ``TypeAdapter`` over the whole list, which is several times faster than
validating records one by one.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from typing import Any, Final, cast

from pydantic import TypeAdapter, ValidationError

from bankmarketing_client._generated.inputs.record_model import (
    CATEGORIES,
    FEATURE_NAMES,
    BankMarketingRecord,
    LenientBankMarketingRecord,
)
from bankmarketing_client.errors import RecordValidationError, RowError

__all__ = [
    "CATEGORIES",
    "FEATURE_NAMES",
    "BankMarketingRecord",
    "records_to_wire",
    "validate_records",
]

_WIRE_BY_ATTRIBUTE: Final[dict[str, str]] = {
    name: field.alias or name for name, field in BankMarketingRecord.model_fields.items()
}
_STRICT_LIST: Final = TypeAdapter(list[BankMarketingRecord])
_LENIENT_LIST: Final = TypeAdapter(list[LenientBankMarketingRecord])


def _wire_name(loc_item: object) -> str:
    text = str(loc_item)
    return _WIRE_BY_ATTRIBUTE.get(text, text)


def _shown(value: object) -> str:
    """The offending value as written, shortened when long (a 400-digit number must not flood the report)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"


def _fits_a_float(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (OverflowError, TypeError, ValueError):
        return False
    return True


def _reason(error: Mapping[str, Any]) -> str:
    """A short, human sentence for one pydantic error, quoting the offending value."""
    kind = error["type"]
    value = error.get("input")
    if kind == "float_type" and isinstance(value, numbers.Real) and not _fits_a_float(value):
        return f"{_shown(value)} is too large for a floating-point number"
    ctx = error.get("ctx") or {}
    if kind == "literal_error":
        field = _wire_name(error["loc"][-1])
        allowed = ", ".join(CATEGORIES.get(field, ()))
        return f"{_shown(value)} is not one of {allowed}"
    if kind == "missing":
        return "required but missing"
    if kind == "extra_forbidden":
        return f"is not a feature of this model (value {_shown(value)}); expected only " + ", ".join(FEATURE_NAMES)
    if kind == "greater_than_equal":
        return f"{_shown(value)} is below the minimum {ctx.get('ge')!r}"
    if kind == "less_than_equal":
        return f"{_shown(value)} is above the maximum {ctx.get('le')!r}"
    if kind == "int_from_float" or (kind == "int_type" and isinstance(value, float)):
        return f"{_shown(value)} is not a whole number"
    if kind in {"int_type", "int_parsing", "not_a_number"}:
        return f"{_shown(value)} is not an integer"
    if kind in {"float_type", "float_parsing"}:
        return f"{_shown(value)} is not a number"
    if kind == "finite_number":
        return f"{_shown(value)} is not a finite number"
    if kind == "model_type":
        return f"expected a mapping of feature names to values, got {type(value).__name__}"
    return f"{_shown(value)}: {error['msg']}"


def _row_errors(exc: ValidationError, start_row: int) -> list[RowError]:
    found: list[RowError] = []
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        row = start_row + int(loc[0]) if loc and isinstance(loc[0], int) else start_row
        field = _wire_name(loc[1]) if len(loc) > 1 else "(record)"
        found.append(RowError(row=row, field=field, reason=_reason(error)))
    found.sort(key=lambda e: (e.row, FEATURE_NAMES.index(e.field) if e.field in FEATURE_NAMES else 99))
    return found


def validate_records(
    rows: Iterable[Mapping[str, object] | BankMarketingRecord],
    *,
    start_row: int = 1,
    allow_unknown_categories: bool = False,
) -> list[BankMarketingRecord]:
    """Validate every row and return the records, or raise one error naming every bad row and field.

    Rows may use wire names (``emp.var.rate``) or attribute names (``emp_var_rate``). ``start_row`` is the
    number reported for the first row (use it when validating one chunk of a bigger file).
    """
    batch = [row if isinstance(row, dict | BankMarketingRecord) else _as_dict(row) for row in rows]
    try:
        if not allow_unknown_categories:
            return _validate(_STRICT_LIST, batch)
        lenient = _validate(
            _LENIENT_LIST, [row.model_dump() if isinstance(row, BankMarketingRecord) else row for row in batch]
        )
    except ValidationError as exc:
        raise RecordValidationError(_row_errors(exc, start_row)) from None
    # The lenient twin differs only in letting any string through; its values are already checked.
    return [BankMarketingRecord.model_construct(**record.__dict__) for record in lenient]


def _convertible(kind: str, value: object) -> bool:
    """Numbers of another Python type that mean exactly one value of the field's type (never bools or text)."""
    if isinstance(value, bool):
        return False
    if kind == "int_type":
        return isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer())
    # A whole number beyond a float's range (10**400) is not convertible: it stays a row error.
    return kind == "float_type" and isinstance(value, numbers.Real) and _fits_a_float(value)


def _validate(adapter: TypeAdapter[list[Any]], batch: list[Any]) -> list[Any]:
    """Validate; if numbers came as whole floats (``5.0``) or numpy scalars, convert those cells and retry once."""
    try:
        return adapter.validate_python(batch)
    except ValidationError as exc:
        cells = [
            (error["loc"][0], error["loc"][1], int if error["type"] == "int_type" else float)
            for error in exc.errors(include_url=False)
            if len(error["loc"]) == 2 and _convertible(error["type"], error["input"])
        ]
        if not cells:
            raise
    fixed = list(batch)
    for index, key, kind in cells:
        assert isinstance(index, int)
        row = fixed[index] = dict(fixed[index])
        row[key] = kind(row[key])
    return adapter.validate_python(fixed)


def _as_dict(row: object) -> object:
    """Copy other mappings into dicts (pydantic validates dicts); anything else fails as a row error."""
    return dict(row) if isinstance(row, Mapping) else row


def records_to_wire(records: Iterable[BankMarketingRecord]) -> list[dict[str, Any]]:
    """Serialise many records at once, each a dict of wire names in swagger order (faster than a loop)."""
    return cast(list[dict[str, Any]], _STRICT_LIST.dump_python(list(records), by_alias=True, warnings=False))
