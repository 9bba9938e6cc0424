"""The record codec: every way a row becomes a validated bank-marketing record, and back to wire JSON.

One place holds the rules, so the typed client, batch scoring, the load test, the local endpoint's schema sample,
codegen's domain reader and the benchmarks cannot disagree about a value. Column kinds (integer, number, category)
and bounds are read from the generated pydantic model (:func:`field_rules`); swagger is their source of truth.

The swagger Azure generates carries only types, so the domain rules come from the training data (see
``codegen/README.md`` for how they are derived):

* **Categories** are ``Literal`` types holding exactly the values seen in the training data. A value the data
  has never shown (``job='astronaut'``, a typo, ``'Married'``) is refused by default, because the model would
  silently treat it as missing and give a quietly wrong answer. ``allow_unknown_categories=True`` lets such
  values through unchanged for callers who know the deployed model was trained on more data.
* **Numeric bounds** are the training range widened by half its span on each side (counts never below 0), so
  that unit mistakes and swapped columns are caught while plausible new values still pass.
* **Types** (values that are already Python objects, as JSON gives them): integers accept ints and whole floats
  (``5.0`` -> ``5``, as JSON from pandas often gives), never strings or booleans; floats accept ints and floats,
  never strings, booleans, NaN or infinity. numpy scalars count as the numbers they hold.
* ``pdays = 999`` means "never contacted before"; it is the only value above the real day counts.
* Unknown keys are refused (a misspelt column must not be dropped silently); missing keys are refused.

**Text cells** (CSV, or an Arrow string column) follow one rule, :func:`parse_number`, wherever they are read:

* ``""`` and ``"NA"`` (after stripping; an Arrow null too) are missing: ``row N, <field>: required but missing``,
  the words of a missing key. The training data has no missing values (its only placeholder is the category
  ``"unknown"``, a value like any other), so there is nothing sensible to send in their place.
* A number column's cell is stripped of surrounding whitespace and must be a decimal number (``57``, ``-1.8``,
  ``.5``, ``1e3``; no ``_``, hex or non-ASCII digits). An integer column takes it when its value is whole:
  ``"57"``, ``" 57 "``, ``"57.0"`` -> 57 and ``"1e3"`` -> 1000, while ``"57.5"`` is ``57.5 is not a whole
  number``. A number column takes any finite value (``"1e3"`` -> 1000.0; ``"nan"``, ``"inf"`` are
  ``nan is not a finite number``). These words are the model's for the same value given as a float.
* Anything else is a named error quoting the cell: ``'abc' is not an integer`` / ``'abc' is not a number``.
* A category cell is taken exactly as written (no stripping): ``" married"`` is not ``"married"``.

Errors are :class:`RecordValidationError` holding one :class:`RowError` (row number, wire field name, reason)
per bad cell, whichever way the row came in. :func:`encode_records` is the one JSON serialiser of records.

:func:`validate_records` has a fast path for batches of mappings: the model's own field schemas and config run
as one pydantic-core validator that returns plain dicts, and the records are then built as ``model_construct``
builds them (pydantic spends most of its time making a model instance and a field set per row in Rust). Any
batch that does not pass whole as it stands (a bad value, numpy scalars, whole floats, records, a key too many)
goes through the model itself, which converts what it may and words every error. ``tests/test_features.py``
compares both paths on random valid and invalid rows; the odd text cells are in
``tests/test_features_odd_cells.py``.
"""

from __future__ import annotations

import gc
import math
import numbers
import re
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import SchemaValidator, core_schema

from bankmarketing_client._generated.inputs.record_model import (
    CATEGORIES,
    FEATURE_NAMES,
    BankMarketingRecord,
    LenientBankMarketingRecord,
)
from bankmarketing_client.errors import RecordValidationError, RowError

__all__ = [
    "CATEGORIES",
    "CATEGORY_FIELDS",
    "COLUMN_KINDS",
    "FEATURE_NAMES",
    "INTEGER_FIELDS",
    "MISSING",
    "MISSING_MARKERS",
    "NUMBER_FIELDS",
    "BankMarketingRecord",
    "CellError",
    "FieldRule",
    "Kind",
    "encode_records",
    "encode_rows",
    "field_rules",
    "parse_number",
    "records_from_text",
    "records_to_wire",
    "validate_records",
]

Kind = Literal["integer", "number", "category"]

#: Text cells that mean "no value" (after stripping). The training data has none, so a missing value is an error.
MISSING_MARKERS: Final = frozenset({"", "NA"})
#: The reason given for a missing key or a missing cell, wherever the row came from.
MISSING: Final = "required but missing"


@dataclass(frozen=True)
class FieldRule:
    """What the model demands of one field: its wire and attribute names, kind, categories and bounds."""

    name: str
    kind: Kind
    categories: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    attribute: str = ""


def _read_rules() -> tuple[FieldRule, ...]:
    rules: list[FieldRule] = []
    for attribute, info in BankMarketingRecord.model_fields.items():
        name = info.alias or attribute
        annotation = info.annotation
        minimum = maximum = None
        for meta in info.metadata:
            if getattr(meta, "ge", None) is not None:
                minimum = float(meta.ge)
            if getattr(meta, "le", None) is not None:
                maximum = float(meta.le)
        if typing.get_origin(annotation) is Literal:
            categories = tuple(str(v) for v in typing.get_args(annotation))
            rules.append(FieldRule(name, "category", categories, attribute=attribute))
        elif annotation is int:
            rules.append(FieldRule(name, "integer", minimum=minimum, maximum=maximum, attribute=attribute))
        elif annotation is float:
            rules.append(FieldRule(name, "number", minimum=minimum, maximum=maximum, attribute=attribute))
        else:  # a field type no reader here knows how to parse: fail at import, not on some row later
            raise TypeError(f"no column rule for field {name!r} of type {annotation!r}")
    return tuple(rules)


_RULES: Final = _read_rules()
#: Kind of every feature, by wire name, in swagger order.
COLUMN_KINDS: Final[dict[str, Kind]] = {rule.name: rule.kind for rule in _RULES}
INTEGER_FIELDS: Final = frozenset(rule.name for rule in _RULES if rule.kind == "integer")
NUMBER_FIELDS: Final = frozenset(rule.name for rule in _RULES if rule.kind == "number")
CATEGORY_FIELDS: Final = tuple(rule.name for rule in _RULES if rule.kind == "category")
_KIND_BY_KEY: Final[dict[str, Kind]] = {**{r.attribute: r.kind for r in _RULES}, **COLUMN_KINDS}


def field_rules() -> tuple[FieldRule, ...]:
    """The model's rules per field, in wire (swagger) order, read from the pydantic field definitions."""
    return _RULES


# -- text cells ----------------------------------------------------------------------------------------------

_INTEGER_TEXT: Final = re.compile(r"[+-]?[0-9]+")
_NUMBER_TEXT: Final = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan)", re.IGNORECASE
)


class CellError(ValueError):
    """One text cell that is not a value of its column; ``reason`` is worded for a :class:`RowError`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_number(kind: Kind, text: str | None) -> int | float:
    """One text cell of a number column as the number it holds (the rule in the module docstring).

    ``None`` (an Arrow null) is missing, like ``""``. Bounds are not checked here: the model judges them.
    """
    stripped = text.strip() if text is not None else ""
    if stripped in MISSING_MARKERS:
        raise CellError(MISSING)
    if kind == "integer" and _INTEGER_TEXT.fullmatch(stripped):
        return int(stripped)
    if not _NUMBER_TEXT.fullmatch(stripped):
        raise CellError(f"{_shown(text)} is {'not an integer' if kind == 'integer' else 'not a number'}")
    number = float(stripped)
    # Worded from the number, as the model words the same value read as a float (Arrow's typed CSV columns).
    if kind == "integer":
        if not number.is_integer():
            raise CellError(f"{_shown(number)} is not a whole number")
        return int(number)
    if not math.isfinite(number):
        raise CellError(f"{_shown(number)} is not a finite number")
    return number


def _typed_cells(row: Mapping[str, object], row_number: int, errors: list[RowError]) -> dict[str, object]:
    """The feature cells of one text row with numbers parsed; a cell that fails is left out and named in errors."""
    typed: dict[str, object] = {}
    for key, value in row.items():
        kind = _KIND_BY_KEY.get(key)
        if kind is None:
            continue  # a CSV carries the target and ids beside the features
        if value is None or (isinstance(value, str) and value.strip() in MISSING_MARKERS):
            errors.append(RowError(row_number, _wire_name(key), MISSING))
            continue
        if kind != "category" and isinstance(value, str):
            try:
                value = parse_number(kind, value)
            except CellError as exc:
                errors.append(RowError(row_number, _wire_name(key), exc.reason))
                continue
        typed[key] = value
    return typed


def records_from_text(
    rows: Iterable[Mapping[str, object]],
    *,
    start_row: int = 1,
    allow_unknown_categories: bool = False,
) -> list[BankMarketingRecord]:
    """Rows of text cells (a CSV's ``DictReader`` rows, an Arrow row) as validated records, or one error naming
    every bad row and field.

    Keys that are not features (the target ``y``, an id) are ignored; cells that are not text (a typed Arrow or
    pandas column) are judged by the model as they are. Rows are numbered from ``start_row``.
    """
    cell_errors: list[RowError] = []
    typed = [_typed_cells(row, start_row + offset, cell_errors) for offset, row in enumerate(rows)]
    try:
        records = validate_records(typed, start_row=start_row, allow_unknown_categories=allow_unknown_categories)
    except RecordValidationError as exc:
        named = {(e.row, e.field) for e in cell_errors}  # a cell left out is "missing" to the model: said already
        kept = [e for e in exc.errors if (e.row, e.field) not in named]
        raise RecordValidationError(_in_order(cell_errors + kept)) from None
    if cell_errors:
        raise RecordValidationError(_in_order(cell_errors))
    return records


# -- JSON ----------------------------------------------------------------------------------------------------

_STRICT_LIST: Final = TypeAdapter(list[BankMarketingRecord])
_LENIENT_LIST: Final = TypeAdapter(list[LenientBankMarketingRecord])


def encode_records(records: Sequence[BankMarketingRecord]) -> bytes:
    """Validated records as one JSON array: wire names, swagger order, compact (serialised by pydantic-core).

    This is the one serialiser of records: the client splices its output into a request body, batch scoring
    writes the same text. ``warnings=False``: a record let through by ``allow_unknown_categories`` holds a
    category the ``Literal`` does not list, which is intended.
    """
    return _STRICT_LIST.dump_json(list(records), by_alias=True, warnings=False)


def encode_rows(records: Sequence[BankMarketingRecord], columns: Sequence[str]) -> bytes:
    """Validated records as one JSON array of rows, each the values in ``columns`` order (wire names): the body of
    a family that sends a frame's rows (MLflow's split orientation). Values are the ones :func:`encode_records`
    writes, from the same serialiser."""
    import json

    wire = records_to_wire(records)
    try:
        rows = [[record[name] for name in columns] for record in wire]
    except KeyError as exc:
        raise ValueError(f"the endpoint's column {exc.args[0]!r} is not a record field") from None
    return json.dumps(rows, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def records_to_wire(records: Iterable[BankMarketingRecord]) -> list[dict[str, Any]]:
    """Serialise many records at once, each a dict of wire names in swagger order (faster than a loop)."""
    return cast(list[dict[str, Any]], _STRICT_LIST.dump_python(list(records), by_alias=True, warnings=False))


# -- validation ----------------------------------------------------------------------------------------------

_WIRE_BY_ATTRIBUTE: Final[dict[str, str]] = {rule.attribute: rule.name for rule in _RULES}
_ATTRIBUTES: Final = tuple(rule.attribute for rule in _RULES)


def _wire_name(loc_item: object) -> str:
    text = str(loc_item)
    return _WIRE_BY_ATTRIBUTE.get(text, text)


def _in_order(errors: Iterable[RowError]) -> list[RowError]:
    return sorted(errors, key=lambda e: (e.row, FEATURE_NAMES.index(e.field) if e.field in FEATURE_NAMES else 99))


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
        return MISSING
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
    return _in_order(found)


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
    given = rows if isinstance(rows, list) else list(rows)
    checked = _valid_as_they_stand(given, lenient=allow_unknown_categories)
    if checked is not None:
        return checked
    batch = [row if isinstance(row, dict | BankMarketingRecord) else _as_dict(row) for row in given]
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


# -- the fast path -------------------------------------------------------------------------------------------


def _fields_validator(model: type[BaseModel]) -> SchemaValidator:
    """A validator of ``list[model]`` that returns plain dicts: the model's own field schemas and config (so every
    rule is the model's), without building an instance and a field set per row in Rust.

    Extra keys are ignored here rather than forbidden (a third faster): :func:`_valid_as_they_stand` lets
    through only rows with exactly as many keys as fields, and each field takes a key of its own (no field's
    attribute name is another's wire name), so a row with an extra key always lacks a field and fails.
    """
    schema = cast(dict[str, Any], model.__pydantic_core_schema__)
    if schema["type"] != "model" or schema["schema"]["type"] != "model-fields" or schema.get("custom_init"):
        raise TypeError(f"{model.__name__} is not a plain model: validate_records has no fast path for it")
    fields = schema["schema"]["fields"]
    wire = {field["validation_alias"] for field in fields.values()}
    if any(name in wire and fields[name]["validation_alias"] != name for name in fields):
        raise TypeError(f"{model.__name__}: an attribute name is another field's wire name")
    rows = core_schema.typed_dict_schema(
        {
            name: core_schema.typed_dict_field(field["schema"], required=True, validation_alias=_names(field, name))
            for name, field in fields.items()
        },
        extra_behavior="ignore",
        total=True,
    )
    return SchemaValidator(core_schema.list_schema(rows), config=schema["config"])


def _names(field: Mapping[str, Any], attribute: str) -> str | list[list[str | int]]:
    """The keys a field is read from: its wire name, then its attribute name (populate_by_name, as the model)."""
    wire = str(field["validation_alias"])
    choices: list[list[str | int]] = [[wire], [attribute]]
    return wire if wire == attribute else choices


_FAST: Final = {False: _fields_validator(BankMarketingRecord), True: _fields_validator(LenientBankMarketingRecord)}
_new = object.__new__
# BaseModel's own slots, given the values model_construct gives them (pydantic keeps field values in __dict__).
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def _valid_as_they_stand(batch: list[Any], *, lenient: bool) -> list[BankMarketingRecord] | None:
    """The records, when every row passes the model's field rules as it stands; ``None`` when any row does not
    (numpy scalars, whole floats, records, bad values: the pydantic path then converts, judges and words)."""
    try:
        if set(map(len, batch)) != {len(_ATTRIBUTES)}:
            return None  # a key too many or too few (or an empty batch): the model words it
        valid = _FAST[lenient].validate_python(batch)
    except (TypeError, ValidationError):  # TypeError: a row without a length, such as a record
        return None
    return _construct(valid)


def _construct(values: list[dict[str, Any]]) -> list[BankMarketingRecord]:
    """Records from validated field values (attribute names, swagger order), set up as ``model_construct`` does.

    Two costs are left out, which together made this a third of the time: one set of field names is shared by
    the records of a call (every field is required, the records are frozen, and pydantic copies the set before
    it changes one, in ``model_copy``); and the cyclic garbage collector is paused while they are made (they
    hold no cycles; with it running, it rescans the records made so far, over and over).
    """
    fields_set = set(_ATTRIBUTES)
    records: list[BankMarketingRecord] = []
    append = records.append
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        for fields in values:
            record = _new(BankMarketingRecord)
            _set_dict(record, fields)
            _set_fields_set(record, fields_set)
            _set_extra(record, None)
            _set_private(record, None)
            append(record)
    finally:
        if paused:
            gc.enable()
    return records
