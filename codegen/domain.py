"""The domain rules the swagger lacks, derived from the training data: categories, bounds, sentinels.

Bounds are deliberately wider than the observed range: the observed range widened by half its span on each
side, rounded outwards, and never below 0 for the integer counts. That catches unit mistakes and swapped
columns (``nr.employed = 5.1``, ``age = 5099``) without refusing plausible values the data simply lacks.
``pdays`` is special: 999 is a sentinel ("never contacted before"), so its upper bound is exactly 999.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from bankmarketing_client.errors import DatasetError

#: Features whose largest value is a sentinel, with its meaning (documented on the field).
SENTINELS: dict[str, tuple[int, str]] = {
    "pdays": (999, "999 means the client was never contacted in a previous campaign"),
}
FLOAT_DECIMALS = 3


@dataclass(frozen=True)
class NumericDomain:
    """Observed and enforced range of one numeric feature."""

    observed_min: float
    observed_max: float
    minimum: float
    maximum: float
    is_integer: bool
    below_sentinel_max: float | None = None


@dataclass(frozen=True)
class Domain:
    """Everything derived from the data: categories in sorted order and numeric ranges, by wire name."""

    categories: dict[str, tuple[str, ...]]
    numeric: dict[str, NumericDomain]
    rows: int


def _widen(name: str, low: float, high: float, is_integer: bool) -> tuple[float, float]:
    margin = (high - low) / 2
    if name in SENTINELS:
        sentinel = float(SENTINELS[name][0])
        return max(0.0, low), sentinel
    if is_integer:
        return float(max(0, math.floor(low - margin))), float(math.ceil(high + margin))
    scale = 10**FLOAT_DECIMALS
    return math.floor((low - margin) * scale) / scale, math.ceil((high + margin) * scale) / scale


def derive_domain(path: Path | None = None) -> Domain:
    """Read the training CSV once (no pandas) and derive categories and bounds.

    Cells are read by the record codec, whose column kinds come from the committed record model; imported
    here, not at the top, so that generating code never needs the code it generates (only this command does).
    """
    from bankmarketing_client.data import (
        CATEGORICAL_COLUMNS,
        FEATURE_COLUMNS,
        FLOAT_COLUMNS,
        INTEGER_COLUMNS,
        iter_rows,
        resolve_train_path,
    )
    from bankmarketing_client.features import COLUMN_KINDS, CellError, parse_number

    source = resolve_train_path(path, download=False)
    seen: dict[str, set[str]] = {c: set() for c in CATEGORICAL_COLUMNS}
    lows: dict[str, float] = {}
    highs: dict[str, float] = {}
    below_sentinel: dict[str, float] = {}
    rows = 0
    for number, row in enumerate(iter_rows(source), start=2):
        rows += 1
        for column in CATEGORICAL_COLUMNS:
            seen[column].add(row[column])
        for column in INTEGER_COLUMNS | FLOAT_COLUMNS:
            try:
                value = float(parse_number(COLUMN_KINDS[column], row[column]))
            except CellError as exc:
                raise DatasetError(f"{source}: line {number}, {column}: {exc.reason}") from None
            lows[column] = min(lows.get(column, value), value)
            highs[column] = max(highs.get(column, value), value)
            if column in SENTINELS and value != SENTINELS[column][0]:
                below_sentinel[column] = max(below_sentinel.get(column, value), value)
    if rows == 0:
        raise DatasetError(f"{source}: no data rows")
    numeric: dict[str, NumericDomain] = {}
    for column in FEATURE_COLUMNS:
        if column in lows:
            is_integer = column in INTEGER_COLUMNS
            minimum, maximum = _widen(column, lows[column], highs[column], is_integer)
            low, high = round(lows[column], 6), round(highs[column], 6)
            numeric[column] = NumericDomain(low, high, minimum, maximum, is_integer, below_sentinel.get(column))
    categories = {c: tuple(sorted(seen[c])) for c in CATEGORICAL_COLUMNS}
    return Domain(categories=categories, numeric=numeric, rows=rows)
