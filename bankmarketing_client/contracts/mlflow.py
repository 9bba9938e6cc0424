"""The ``mlflow`` family: an MLflow model on a managed online endpoint without a scoring script (Azure ML v2's
"no-code deployment", served by Azure's ``mlflow_score_script.py``; FIELD-NOTES section 10).

* Request: ``{"input_data": {"columns": [...], "index": [...], "data": [[...], ...]}}``, pandas' split orientation,
  the values of each row in the endpoint's column order. The client always sends ``index``: the records-style
  ``{"input_data": {"data": [records]}}`` of some samples fails under pandas 3.
* Answer: a bare JSON list, labels (``["no", "yes"]``), or ``[[p_no, p_yes], ...]`` from a model saved with
  ``predict_fn: predict_proba``. The request cannot choose: the deployment decides, and its swagger says which
  (an answer whose items are arrays). ``predict_proba`` is refused before sending where the answer is labels.
* Errors: ``{"message": ...}`` 400/415 for a body that is not a JSON object with ``input_data``; any failure inside
  the script is a 500 with ``x-ms-run-function-failed: True``, which Azure's front wraps in a 424.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final

from bankmarketing_client.contracts.family import CodegenSettings, Family, Method, RecordLayout
from bankmarketing_client.errors import ConfigurationError

#: The swagger's format of a pandas split frame (inference-schema's ``PandasParameterType(orient="split")``).
SPLIT_FORMAT: Final = "pandas.DataFrame:split"


def columns_of(options: Mapping[str, Any]) -> tuple[str, ...]:
    """The endpoint's column order: read from its swagger, else the record's own (the swagger's) order."""
    columns = options.get("columns")
    if columns:
        return tuple(columns)
    from bankmarketing_client.data import FEATURE_COLUMNS

    return tuple(FEATURE_COLUMNS)


def _json_names(names: Sequence[str]) -> bytes:
    import json

    return json.dumps(list(names), separators=(",", ":"), ensure_ascii=False).encode()


class MLflow(Family):
    name: ClassVar[str] = "mlflow"
    summary: ClassVar[str] = '`{"input_data": {"columns": [...], "index": [...], "data": [[value, ...], ...]}}`'
    source: ClassVar[str] = (
        "Azure ML v2 no-code MLflow deployment (azureml-assets mlflow_score_script.py), checked 2026-12"
    )
    shapes: ClassVar[tuple[str, ...]] = ("v8",)
    record_layout: ClassVar[RecordLayout] = "row"
    codegen: ClassVar[CodegenSettings | None] = CodegenSettings(records_parent=("input_data",), answer="bare-list")
    local_entry: ClassVar[str | None] = "bankmarketing_client.local.mlflow_score"
    local_model: ClassVar[str | None] = "bankmarketing_client.local.mlflow_model:prepare"
    records_member: ClassVar[tuple[str, ...]] = ("input_data",)

    def offers_proba(self, options: Mapping[str, Any]) -> bool:
        return bool(options.get("probabilities"))

    def proba_hint(self) -> str:
        return "probabilities need a deployment whose MLflow model was saved with predict_fn predict_proba"

    def build_body(
        self, records: Sequence[Mapping[str, Any]], method: Method, options: Mapping[str, Any]
    ) -> dict[str, Any]:
        columns = columns_of(options)
        rows = [[record[name] for name in columns] for record in records]
        return {"input_data": {"columns": list(columns), "index": list(range(len(rows))), "data": rows}}

    def body_bytes(self, records_json: bytes, rows: int, method: Method, options: Mapping[str, Any]) -> bytes:
        index = b",".join(b"%d" % i for i in range(rows))
        return b'{"input_data":{"columns":%s,"index":[%s],"data":%s}}' % (
            _json_names(columns_of(options)),
            index,
            records_json,
        )

    def recognise(
        self, properties: Mapping[str, Any], schema: Mapping[str, Any], answer: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        frame = properties.get("input_data")
        if not isinstance(frame, Mapping) or frame.get("format") != SPLIT_FORMAT:
            return None
        options: dict[str, Any] = {"probabilities": _answers_pairs(answer)}
        columns = _example_columns(schema, frame)
        if columns is not None:
            from bankmarketing_client.data import FEATURE_COLUMNS

            if sorted(columns) != sorted(FEATURE_COLUMNS):
                unknown = sorted(set(columns) ^ set(FEATURE_COLUMNS))
                raise ConfigurationError(
                    "the MLflow endpoint's columns are not the bank-marketing features "
                    f"(differing: {', '.join(unknown[:5]) or 'a repeated name'})"
                )
            if tuple(columns) != tuple(FEATURE_COLUMNS):  # the record's own order needs no saying
                options["columns"] = tuple(columns)
        return options

    def records_in(self, document: Mapping[str, Any]) -> Any:
        frame = document.get("input_data")
        if not isinstance(frame, Mapping):
            return None
        columns, rows = frame.get("columns"), frame.get("data")
        if not isinstance(columns, list) or not isinstance(rows, list):
            return rows if isinstance(rows, list) and columns is None else None
        return [dict(zip(columns, row, strict=False)) if isinstance(row, list) else row for row in rows]


def _example_columns(schema: Mapping[str, Any], frame: Mapping[str, Any]) -> list[str] | None:
    """The column names the swagger's example carries (it declares no types): the body's or the frame's own."""
    for example in (schema.get("example"), {"input_data": frame.get("example")}):
        frame_example = example.get("input_data") if isinstance(example, Mapping) else None
        if isinstance(frame_example, Mapping):
            columns = frame_example.get("columns")
            if isinstance(columns, list) and columns and all(isinstance(c, str) for c in columns):
                return columns
    return None


def _answers_pairs(answer: Mapping[str, Any]) -> bool:
    """A 200 answer declared as an array of arrays is ``predict_proba``'s pairs; ``numpy.ndarray`` of labels is not."""
    items = answer.get("items")
    if isinstance(items, Mapping) and items.get("type") == "array":
        return True
    example = answer.get("example")
    return isinstance(example, list) and bool(example) and isinstance(example[0], list)


FAMILY = MLflow()
