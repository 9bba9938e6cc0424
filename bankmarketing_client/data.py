"""Finding and reading the UCI bank-marketing dataset (CC BY 4.0, Moro, Cortez and Rita, 2014).

The dataset is never shipped with the package. It is found, in this order, at an explicit path,
at ``$BANKMARKETING_DATA``, in the per-user cache, or downloaded from Azure's public AutoML sample into
that cache. Every failure is one :class:`DatasetError` that says what to set.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import httpx

from bankmarketing_client.errors import DatasetError
from bankmarketing_client.features import CATEGORY_FIELDS, FEATURE_NAMES, INTEGER_FIELDS, NUMBER_FIELDS

if TYPE_CHECKING:
    import pandas as pd

ENV_VAR: Final = "BANKMARKETING_DATA"
HOLDOUT_ENV_VAR: Final = "BANKMARKETING_HOLDOUT"
CACHE_ENV_VAR: Final = "BANKMARKETING_CACHE_DIR"
PUBLIC_URL: Final = (
    "https://automlsamplenotebookdata.blob.core.windows.net/automl-sample-notebook-data/bankmarketing_train.csv"
)
TRAIN_FILE_NAME: Final = "bankmarketing_train.csv"
HOLDOUT_FILE_NAME: Final = "bankmarketing_holdout_derived.csv"
TARGET: Final = "y"

#: The 20 features in the order Azure's swagger lists them (the order of the CSV columns), and their kinds: all
#: read from the generated record model (:mod:`bankmarketing_client.features`), never listed by hand.
FEATURE_COLUMNS: Final = FEATURE_NAMES
INTEGER_COLUMNS: Final = INTEGER_FIELDS
FLOAT_COLUMNS: Final = NUMBER_FIELDS
CATEGORICAL_COLUMNS: Final = CATEGORY_FIELDS
#: Delimiters a dataset CSV may use: Azure's sample uses ",", the UCI original ";".
DELIMITERS: Final = (",", ";")
#: The longest CSV line (header or row, its end excluded) ever read, in bytes (128 KiB): some 650 times a real
#: row of this dataset (~200 bytes), so only a wrong or damaged file goes past it. Every field is within its
#: line, so this also caps a field. Python's csv field limit (128 Ki characters) and Arrow's block reader
#: (batch.readers) both take a line this long, so neither fails on a line this cap lets through.
MAX_LINE_BYTES: Final = 1 << 17
_LINE_END: Final = re.compile(rb"\r\n|\r|\n")


def cache_dir() -> Path:
    """The per-user cache folder (``$BANKMARKETING_CACHE_DIR``, else ``$XDG_CACHE_HOME`` or ``~/.cache``)."""
    explicit = os.environ.get(CACHE_ENV_VAR)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bankmarketing-client"


def _not_found_message(tried: Sequence[str]) -> str:
    return (
        "The bank-marketing dataset was not found (tried: "
        + "; ".join(tried)
        + f"). Set {ENV_VAR} to the path of {TRAIN_FILE_NAME}, or give internet access so that it can be "
        f"downloaded from {PUBLIC_URL}"
    )


def resolve_train_path(path: str | os.PathLike[str] | None = None, *, download: bool = True) -> Path:
    """Return the path of the training CSV, downloading it into the cache as a last resort."""
    tried: list[str] = []
    if path is not None:
        candidate = Path(path)
        if candidate.is_file():
            return candidate
        raise DatasetError(f"The dataset path {candidate} does not exist or is not a file.")
    env = os.environ.get(ENV_VAR)
    if env:
        candidate = Path(env)
        if candidate.is_file():
            return candidate
        raise DatasetError(f"{ENV_VAR}={env} does not exist or is not a file.")
    tried.append(f"{ENV_VAR} is not set")
    cached = cache_dir() / TRAIN_FILE_NAME
    if cached.is_file():
        return cached
    tried.append(f"no cached copy at {cached}")
    if not download:
        raise DatasetError(_not_found_message(tried))
    try:
        return download_dataset(cached)
    except DatasetError as exc:
        tried.append(str(exc))
        raise DatasetError(_not_found_message(tried)) from exc


def resolve_holdout_path(train_path: Path | None = None) -> Path:
    """The holdout CSV: ``$BANKMARKETING_HOLDOUT``, else the derived holdout file beside the training file."""
    env = os.environ.get(HOLDOUT_ENV_VAR)
    candidate = Path(env) if env else (train_path or resolve_train_path()).with_name(HOLDOUT_FILE_NAME)
    if not candidate.is_file():
        raise DatasetError(
            f"The holdout file {candidate} was not found. Set {HOLDOUT_ENV_VAR} to the path of {HOLDOUT_FILE_NAME}."
        )
    return candidate


def download_dataset(
    target: Path,
    url: str = PUBLIC_URL,
    *,
    timeout: float = 60.0,
    transport: httpx.BaseTransport | None = None,
) -> Path:
    """Download ``url`` to ``target`` atomically and check that it is the bank-marketing CSV."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".download-", suffix=".csv")
    tmp = Path(tmp_name)
    try:
        with (
            os.fdopen(fd, "wb") as out,
            httpx.Client(timeout=timeout, transport=transport, follow_redirects=True) as http,
            http.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise DatasetError(f"download of {url} answered HTTP {response.status_code}")
            for chunk in response.iter_bytes():
                out.write(chunk)
        read_header(tmp)  # a wrong file is refused before it lands in the cache
        tmp.replace(target)
        return target
    except httpx.HTTPError as exc:
        raise DatasetError(f"download of {url} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def first_lines(path: Path, count: int) -> list[bytes]:
    """Up to ``count`` first lines of ``path``, without their ends (``\\n``, ``\\r\\n`` or ``\\r``).

    At most ``count * (MAX_LINE_BYTES + 2)`` bytes are read, so a file that is one huge line (a 2 GB header)
    costs no more memory than a normal one. A line longer than :data:`MAX_LINE_BYTES` comes back cut to
    ``MAX_LINE_BYTES + 1`` bytes and is the last one returned: the caller tells it apart by its length.
    """
    with path.open("rb") as fh:
        data = fh.read(count * (MAX_LINE_BYTES + 2))
    lines: list[bytes] = []
    while data and len(lines) < count:
        end = _LINE_END.search(data, 0, MAX_LINE_BYTES + 2)
        if end is None or end.start() > MAX_LINE_BYTES:
            lines.append(data[: MAX_LINE_BYTES + 1])
            break
        lines.append(data[: end.start()])
        data = data[end.end() :]
    return lines


def header_lines(path: Path, count: int) -> list[bytes]:
    """:func:`first_lines`, refusing a header (the first line) over :data:`MAX_LINE_BYTES` in one line.

    Raises :class:`DatasetError` for a wrong or damaged file whose header is that long; ``OSError`` as usual.
    """
    lines = first_lines(path, count)
    if lines and len(lines[0]) > MAX_LINE_BYTES:
        raise DatasetError(
            f"{path}: the header line is longer than {MAX_LINE_BYTES:,} bytes; expected a CSV header with the "
            "20 feature columns (is this the right file?)"
        )
    return lines


def split_header(header: str, delimiter: str) -> list[str]:
    """The column names in ``header`` (one line, at most :data:`MAX_LINE_BYTES`)."""
    return next(csv.reader([header], delimiter=delimiter))


@dataclass(frozen=True)
class CsvHeader:
    """What the first two lines of a CSV say: its delimiter, its column names, and whether a data row follows."""

    delimiter: str
    names: list[str]
    has_rows: bool


def sniff_header(path: Path, delimiter: str | None = None) -> CsvHeader:
    """The one reading of a CSV header (the dataset, batch input): delimiter, names and whether rows follow.

    The delimiter is ``delimiter`` if given, else the first of :data:`DELIMITERS` that splits the header into
    more than one column with at least two feature names among them. At most two bounded lines are read (a
    huge header is refused, not read); a byte-order mark is dropped. Raises :class:`DatasetError` with one line.
    """
    try:
        lines = header_lines(path, 2)
        header = lines[0].decode("utf-8-sig") if lines else ""
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not UTF-8 text; is it a Parquet or another binary file?") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not header.strip():
        raise DatasetError(f"{path}: the file is empty; expected a CSV header with the 20 feature columns")
    has_rows = len(lines) > 1 and bool(lines[1].strip())
    candidates = (delimiter,) if delimiter else DELIMITERS
    for delim in candidates:
        names = split_header(header, delim)
        if len(names) > 1 and sum(n in FEATURE_COLUMNS for n in names) > 1:
            return CsvHeader(delim, names, has_rows)
    seen = max(("\t", "|", ";", ","), key=header.count)
    hint = f" (it looks separated by {seen!r})" if header.count(seen) else ""
    tried = " or ".join(repr(d) for d in candidates)
    raise DatasetError(
        f"{path}: cannot split the header into columns with {tried}{hint}; "
        "expected comma- or semicolon-separated columns with the 20 feature names"
    )


def read_header(path: Path) -> tuple[str, list[str]]:
    """Return the delimiter and the column names, or say clearly why this is not the dataset."""
    header = sniff_header(path)
    missing = [c for c in FEATURE_COLUMNS if c not in header.names]
    if missing:
        raise DatasetError(f"{path}: missing column(s) {', '.join(missing)}")
    return header.delimiter, header.names


def iter_rows(path: Path) -> Iterator[dict[str, str]]:
    """Stream the rows of a dataset CSV as dicts of strings (either delimiter), without pandas."""
    delimiter, _ = read_header(path)
    with path.open(newline="", encoding="utf-8-sig") as fh:  # a byte-order mark is no part of the first name
        reader = csv.DictReader(fh, delimiter=delimiter)
        try:
            yield from reader
        except csv.Error as exc:  # e.g. a field past the csv module's limit (MAX_LINE_BYTES): one line, no traceback
            raise DatasetError(f"{path}: data row {reader.line_num}: {exc}") from None  # line_num: lines before it


def read_frame(path: Path, *, require_target: bool = True) -> pd.DataFrame:
    """Read a dataset CSV into a pandas frame with proper dtypes (strings as ``object``)."""
    import pandas as pd

    delimiter, names = read_header(path)
    if require_target and TARGET not in names:
        raise DatasetError(f"{path}: missing the target column {TARGET!r}")
    dtypes: dict[str, object] = {c: object for c in CATEGORICAL_COLUMNS}
    if TARGET in names:
        dtypes[TARGET] = object
    try:
        frame = pd.read_csv(path, sep=delimiter, dtype=dtypes)  # type: ignore[arg-type]
    except (ValueError, pd.errors.ParserError) as exc:
        raise DatasetError(f"{path}: not a valid bank-marketing CSV: {exc}") from exc
    for column in INTEGER_COLUMNS:
        if not pd.api.types.is_integer_dtype(frame[column]):
            raise DatasetError(f"{path}: column {column!r} must hold whole numbers")
    for column in FLOAT_COLUMNS:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            raise DatasetError(f"{path}: column {column!r} must hold numbers")
    return frame


def file_digest(path: Path) -> str:
    """SHA-256 of a file, used to key caches to the exact data they were built from."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
