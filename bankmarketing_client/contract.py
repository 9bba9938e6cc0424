"""The request/response contracts of Azure ML bank-marketing endpoints (FIELD-NOTES sections 1 and 10).

Four families of request body exist in the wild, told apart by the endpoint's own swagger; each is described once,
in its module of :mod:`bankmarketing_client.contracts` (the registry), and :class:`Contract` is one endpoint's:

* ``inputs`` (2022-): ``{"Inputs": {"data": [...]}, "GlobalParameters": {"method": "predict"}}``; offers
  ``predict_proba``; answers ``{"Results": [...]}``.
* ``data`` (2020-2021): ``{"data": [...]}``; answers a *double-encoded* ``"{\\"result\\": [...]}"``.
* ``data-method`` (late 2021): as ``data`` plus ``"method": "predict"``.
* ``mlflow`` (Azure ML v2 no-code MLflow deployments): ``{"input_data": {"columns", "index", "data"}}``; answers a
  bare list of labels, or of ``[p_no, p_yes]`` pairs when the deployment's model predicts probabilities.

Decoding does not trust the family (or the swagger's ``ServiceOutput``, which is wrong for the ``data``
family): whatever was sent, a JSON string holding JSON is unwrapped, ``Results``/``result`` are both
understood, and a body carrying ``error`` raises :class:`ModelError`, since AutoML's classic script reports
failures as HTTP 200. Two decoders share those rules: :func:`to_predictions` (one typed object per record, for
the typed calls) and :func:`decode_scores` (columns, with a fast path for big batches); the label rule
(:func:`label_of`, P(yes) > 0.5) is written once, here.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from bankmarketing_client.errors import ConfigurationError, ModelError, UnexpectedResponseError, excerpt

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from bankmarketing_client.contracts import Family, RecordLayout
    from bankmarketing_client.features import BankMarketingRecord

#: A contract family's name: one of :func:`bankmarketing_client.contracts.names` (``inputs``, ``data``, ...).
ContractFamily = str
Method = Literal["predict", "predict_proba"]
#: The label the model gives a client who subscribed; the other class is "no".
POSITIVE_LABEL: Final = "yes"
NEGATIVE_LABEL: Final = "no"
#: P(yes) above this is a "yes" (scikit-learn's argmax over two classes: a tie goes to "no").
DECISION_THRESHOLD: Final = 0.5


def label_of(p_yes: float) -> str:
    """The label the model's ``predict`` gives for a ``predict_proba`` of ``p_yes``: the one label rule."""
    return POSITIVE_LABEL if p_yes > DECISION_THRESHOLD else NEGATIVE_LABEL


@dataclass(frozen=True, slots=True)
class Prediction:
    """One answer, aligned with the input: ``row`` is the 1-based position of the record it belongs to.

    ``probability`` is the model's probability of ``"yes"`` when :meth:`predict_proba` was used, else
    ``None``.
    """

    row: int
    label: str
    probability: float | None = None

    @property
    def subscribed(self) -> bool:
        """True when the model predicts the client subscribes (``label == "yes"``)."""
        return self.label == POSITIVE_LABEL


@dataclass(frozen=True, slots=True)
class Contract:
    """One endpoint's contract: its family (from :mod:`bankmarketing_client.contracts`) and what its swagger said.

    ``probabilities``: the deployment answers ``predict_proba``'s pairs whatever is asked (an MLflow model saved
    with ``predict_fn: predict_proba``). ``columns``: the endpoint's column order, for families that send rows.
    """

    family: ContractFamily
    probabilities: bool = False
    columns: tuple[str, ...] | None = None

    @classmethod
    def of(cls, family: str) -> Contract:
        """The contract named ``family`` (one of the registry's names), or ConfigurationError."""
        from bankmarketing_client import contracts

        return cls(contracts.get(family).name)

    @property
    def spec(self) -> Family:
        """The family's description in the registry."""
        from bankmarketing_client import contracts

        return contracts.get(self.family)

    @property
    def options(self) -> dict[str, Any]:
        return {"probabilities": self.probabilities, "columns": self.columns}

    @property
    def supports_proba(self) -> bool:
        """Whether the endpoint offers probabilities (the family decides, from what its swagger said)."""
        return self.spec.offers_proba(self.options)

    @property
    def record_layout(self) -> RecordLayout:
        """How records travel in this family's bodies: JSON objects, or rows of values in :attr:`column_order`."""
        return self.spec.record_layout

    @property
    def column_order(self) -> tuple[str, ...]:
        """The order of a row's values (the endpoint's for row families, the swagger's record order otherwise)."""
        if self.columns:
            return self.columns
        from bankmarketing_client.data import FEATURE_COLUMNS

        return tuple(FEATURE_COLUMNS)

    def check_method(self, method: Method) -> None:
        """ConfigurationError unless this contract offers ``method`` (checked before anything is validated or sent)."""
        if method != "predict" and not self.supports_proba:
            raise ConfigurationError(f"the {self.family!r} contract only predicts labels; {self.spec.proba_hint()}")

    def build_body(self, records: Sequence[Mapping[str, Any]], *, method: Method = "predict") -> dict[str, Any]:
        """The JSON body for ``records`` (already validated, wire names) and ``method``."""
        self.check_method(method)
        return self.spec.build_body(list(records), method, self.options)

    def encode_records(self, records: Sequence[BankMarketingRecord]) -> bytes:
        """Validated records as the one JSON array this family's body holds (objects, or rows in column order)."""
        from bankmarketing_client.features import encode_records, encode_rows

        if self.record_layout == "row":
            return encode_rows(records, self.column_order)
        return encode_records(records)

    def body_bytes(self, records_json: bytes, *, method: Method = "predict", rows: int | None = None) -> bytes:
        """The same body as :meth:`build_body`, around ``rows`` records already serialised as a JSON array in
        :attr:`record_layout` (:meth:`encode_records`, or batch's columnar encoder).

        The client serialises validated records straight to JSON bytes (pydantic, in Rust) and splices them in
        here, which saves building and re-encoding Python dicts on every request. A row family needs ``rows``
        (its body carries an index).
        """
        self.check_method(method)
        if rows is None:
            if self.record_layout == "row":
                raise ValueError(f"the {self.family!r} body needs the number of rows")
            rows = 0
        return self.spec.body_bytes(records_json, rows, method, self.options)


def encode(body: object) -> bytes:
    """Compact UTF-8 JSON; NaN/infinity refused (they are not JSON and the server would choke on them)."""
    try:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except ValueError as exc:
        raise ConfigurationError(f"payload is not valid JSON: {exc}") from None


# -- records kept in files ---------------------------------------------------------------------------------


def records_from_document(document: Any, source: str) -> list[dict[str, Any]]:
    """The records in any JSON shape Azure users keep: a bare list, or a body of any registered family
    (``{"data": ...}``, ``{"Inputs": {"data": ...}}``, MLflow's ``{"input_data": {"columns", "data"}}``).

    Only the shape is checked (a list of objects, not empty); the values are the validator's business, so a
    load test can still send a deliberately odd record. ``source`` names the document in messages.
    """
    from bankmarketing_client import contracts

    records: Any = document
    if isinstance(document, Mapping):
        found = [r for family in contracts.families() if (r := family.records_in(document)) is not None]
        if not found:
            keys = ", ".join(map(str, document)) or "none"
            shapes = ", ".join(dict.fromkeys(".".join(f.records_member) for f in contracts.families()))
            raise ConfigurationError(
                f"{source} has no member that holds records ({shapes}; keys: {keys}); expected a list of records "
                'or a body such as {"data": [records]} or {"Inputs": {"data": [records]}}'
            )
        records = found[0]
    if not isinstance(records, list):
        raise ConfigurationError(f"{source}: the records must be a JSON list, not {type(records).__name__}")
    if not records:
        raise ConfigurationError(f"{source}: no records to score")
    for row, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise ConfigurationError(f"{source}, row {row}: expected an object, got {type(record).__name__}")
    return records


def read_records_file(path: str | Path, *, what: str = "the records file") -> list[dict[str, Any]]:
    """The records of a JSON file such as the original project's ``data.json`` (see :func:`records_from_document`).

    ``what`` is how messages call the file ("the payload file" for the load test).
    """
    file = Path(path)
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read {what} {file}: {exc.strerror or exc}") from None
    except ValueError as exc:  # UnicodeDecodeError included
        raise ConfigurationError(f"{what} {file} is not valid JSON: {exc}") from None
    return records_from_document(document, f"{what} {file}")


# -- detection -----------------------------------------------------------------------------------------------


def resolve_ref(spec: Mapping[str, Any], schema: Any, depth: int = 0) -> Mapping[str, Any]:
    """``schema`` with its local ``$ref`` chain followed in ``spec`` (at most 10 deep); ``{}`` if it is no object.

    Public because codegen's overlay reads the same documents: one resolver for both.
    """
    if not isinstance(schema, Mapping):
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and depth < 10:
        node: Any = spec
        for part in ref[2:].split("/"):
            node = node.get(part) if isinstance(node, Mapping) else None
        return resolve_ref(spec, node, depth + 1)
    return schema


def _score_request_schema(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    paths = spec.get("paths")
    operation = paths.get("/score", {}).get("post") if isinstance(paths, Mapping) else None
    if not isinstance(operation, Mapping):
        raise ConfigurationError("the swagger has no POST /score operation; set the contract explicitly")
    for parameter in operation.get("parameters") or ():  # Swagger 2.0: the body parameter
        if isinstance(parameter, Mapping) and parameter.get("in") == "body":
            return resolve_ref(spec, parameter.get("schema"))
    content = (operation.get("requestBody") or {}).get("content") or {}  # OpenAPI 3.x
    for media in content.values():
        if isinstance(media, Mapping) and "schema" in media:
            return resolve_ref(spec, media["schema"])
    raise ConfigurationError("the swagger's POST /score has no request body schema; set the contract explicitly")


def _score_answer_schema(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    """The 200 answer's schema of POST /score (Swagger 2.0 or OpenAPI 3.x), ``{}`` if none is declared."""
    paths = spec.get("paths")
    operation = paths.get("/score", {}).get("post") if isinstance(paths, Mapping) else None
    answer = (operation.get("responses") or {}).get("200") if isinstance(operation, Mapping) else None
    if not isinstance(answer, Mapping):
        return {}
    if "schema" in answer:
        return resolve_ref(spec, answer["schema"])
    for media in (answer.get("content") or {}).values():
        if isinstance(media, Mapping) and "schema" in media:
            return resolve_ref(spec, media["schema"])
    return {}


def detect_contract(spec: Mapping[str, Any]) -> Contract:
    """The contract a swagger (2.0, or OpenAPI 3.x from ``?version=3``) describes: the registry's families each
    say whether it is theirs."""
    from bankmarketing_client import contracts

    schema = _score_request_schema(spec)
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        raise ConfigurationError("the swagger's scoring input has no properties; set the contract explicitly")
    properties = {name: resolve_ref(spec, value) for name, value in properties.items()}
    family, options = contracts.recognise(properties, schema, _score_answer_schema(spec))
    return Contract(family.name, bool(options.get("probabilities")), options.get("columns"))


# -- decoding ------------------------------------------------------------------------------------------------


def decode_results(body: bytes, *, status: int = 200, request_id: str | None = None) -> list[Any]:
    """The per-record results in a 200 body, unwrapping double encoding; raises on ``{"error": ...}``."""
    try:
        payload: Any = json.loads(body)
        if isinstance(payload, str):  # the data family's double encoding
            payload = json.loads(payload)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python's parser goes
        raise UnexpectedResponseError(
            "the scoring answer is not JSON", status=status, request_id=request_id, body=body
        ) from None
    if isinstance(payload, Mapping):
        if "error" in payload:
            raise ModelError(
                f"the scoring script reported an error: {excerpt(str(payload['error']))}",
                status=status,
                request_id=request_id,
                body=body,
            )
        for key in ("Results", "result", "results"):
            if key in payload:
                payload = payload[key]
                break
    if not isinstance(payload, list):
        raise UnexpectedResponseError(
            "the scoring answer holds no list of results", status=status, request_id=request_id, body=body
        )
    return payload


def _label(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and len(value) == 2:  # a deployment that answers probabilities (MLflow's predict_fn)
        return label_of(_probability(value))
    if isinstance(value, bool | int) and value in (0, 1):  # v1 swagger declared int64 labels
        return POSITIVE_LABEL if value else NEGATIVE_LABEL
    raise ValueError(f"{excerpt(repr(value), 80)} is not a label")


def _probability(value: Any) -> float:
    if isinstance(value, Mapping):
        value = value.get(POSITIVE_LABEL)
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        value = value[1]  # scikit-learn orders classes ("no", "yes")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{excerpt(repr(value), 80)} is not a probability pair")
    probability = float(value)
    if not (math.isfinite(probability) and 0.0 <= probability <= 1.0):
        raise ValueError(f"{probability!r} is not a probability")
    return probability


def to_predictions(
    results: Sequence[Any],
    expected: int,
    *,
    proba: bool,
    start_row: int = 1,
    status: int = 200,
    request_id: str | None = None,
    body: bytes | None = None,
) -> list[Prediction]:
    """Typed predictions aligned with the ``expected`` records sent; an error if the answer does not fit."""
    if len(results) != expected:
        raise UnexpectedResponseError(
            f"sent {expected} records but got {len(results)} results",
            status=status,
            request_id=request_id,
            body=body,
        )
    out: list[Prediction] = []
    try:
        for offset, value in enumerate(results):
            if proba:
                p = _probability(value)
                out.append(Prediction(start_row + offset, label_of(p), p))
            else:
                out.append(Prediction(start_row + offset, _label(value)))
    except ValueError as exc:
        raise UnexpectedResponseError(
            f"result for row {start_row + len(out)}: {exc}", status=status, request_id=request_id, body=body
        ) from None
    return out


# -- columns for batches -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scores:
    """A batch's answers as columns, in input order: labels, and P(yes) (NaN where only labels were asked for)."""

    labels: list[str]
    probabilities: list[float]


def decode_scores(
    body: bytes, expected: int, *, proba: bool, status: int = 200, request_id: str | None = None
) -> Scores:
    """The same answer as :func:`to_predictions`, as columns and without a Python object per record when the body
    has the common shape (numpy and pyarrow, the batch extra); any other shape, errors included, takes the full
    decoder and raises what it raises."""
    try:
        if proba:
            pairs = _fast_pairs(body, expected)
            if pairs is not None:
                return pairs
        results = decode_results(body, status=status, request_id=request_id)
        fast = _fast_results(results, expected, proba=proba)
    except ImportError:  # the fast paths need the batch extra; the full decoder does not
        results = decode_results(body, status=status, request_id=request_id)
        fast = None
    if fast is not None:
        return fast
    predictions = to_predictions(results, expected, proba=proba, status=status, request_id=request_id, body=body)
    return Scores(
        [p.label for p in predictions],
        [p.probability if p.probability is not None else math.nan for p in predictions],
    )


_PAIRS_HEAD: Final = re.compile(rb'\A\s*\{\s*"Results"\s*:\s*\[\s*\[')
_PAIRS_TAIL: Final = re.compile(rb"\]\s*\]\s*\}\s*\Z")
_PAIRS_SEPARATOR: Final = re.compile(rb"\]\s*,\s*\[")


def _fast_pairs(body: bytes, rows: int) -> Scores | None:
    """``{"Results": [[p_no, p_yes], ...]}`` parsed by Arrow's CSV number parser, 3-4x faster than ``json``.

    Only this exact shape is taken here (anything else, errors included, goes to the full decoder), and Arrow
    rounds decimal text to the nearest double exactly as ``json`` does, so the numbers are identical.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    head = _PAIRS_HEAD.match(body)
    tail = _PAIRS_TAIL.search(body)
    if head is None or tail is None or tail.start() <= head.end():
        return None
    inner = body[head.end() : tail.start()]
    lines = inner.replace(b"], [", b"\n")
    if b"[" in lines:  # other spacing than json.dumps' default
        lines = _PAIRS_SEPARATOR.sub(b"\n", inner)
    try:
        table = pacsv.read_csv(
            io.BytesIO(lines),
            read_options=pacsv.ReadOptions(column_names=["no", "yes"], use_threads=False),
            convert_options=pacsv.ConvertOptions(column_types={"no": pa.float64(), "yes": pa.float64()}),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if table.num_rows != rows or table.column("yes").null_count or table.column("no").null_count:
        return None
    return _from_yes(table.column("yes").to_numpy())


def _fast_results(results: list[Any], rows: int, *, proba: bool) -> Scores | None:
    """The common shapes of decoded results, without a Python object per row; None sends odd answers on."""
    import numpy as np

    if len(results) != rows:
        return None
    if not proba:
        labels = [v for v in results if type(v) is str]
        return Scores(labels, [math.nan] * rows) if len(labels) == rows else None
    try:
        pairs = np.asarray(results, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if pairs.shape != (rows, 2):
        return None
    return _from_yes(pairs[:, 1])


def _from_yes(yes: NDArray[np.float64]) -> Scores | None:
    """Labels by :func:`label_of`'s rule, vectorised; None if any P(yes) is outside [0, 1] (or NaN)."""
    import numpy as np

    if not np.all((yes >= 0) & (yes <= 1)):
        return None
    return Scores(np.where(yes > DECISION_THRESHOLD, POSITIVE_LABEL, NEGATIVE_LABEL).tolist(), yes.tolist())
