"""The overlay: what Azure's swagger lacks or gets wrong, applied to an OpenAPI 3 document.

* Record properties get ``enum`` (categories seen in the data), ``minimum``/``maximum`` (see
  :mod:`codegen.domain`) and a description; ``pdays`` documents its 999 sentinel. This part is derived from
  the data once and committed (``codegen/specs/features-overlay.json``), so generation needs no dataset.
* ``/score``'s 200 response gets its real type, as the family's codegen settings in the contract registry say: the
  **data** family answers a JSON string that itself holds JSON (double-encoded), the **inputs** family answers
  ``{"Results": [...]}`` of any JSON values, the **mlflow** family a bare list (labels, or probability pairs).
* A frame in pandas' split orientation (**mlflow**) gets its real shape: ``data`` is rows (arrays of values),
  ``index`` integers, ``columns`` the names the swagger's example lists, in its order.
* The health check ``GET /`` answers ``text/plain`` (``Healthy``), not JSON.
* Error responses (``default``) are declared ``text/plain``: the container, Azure's front and gunicorn answer
  401/408/424/429/500/502 with JSON, plain text or HTML, so the client must not be generated to parse JSON.
* ``GET /swagger.json`` answers a JSON object (the document), not a string.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from bankmarketing_client.contract import detect_contract, resolve_ref
from bankmarketing_client.contracts import CodegenSettings, Family
from bankmarketing_client.contracts import get as get_family
from bankmarketing_client.errors import ConfigurationError
from codegen.domain import SENTINELS, Domain
from codegen.errors import CodegenError

JSONDict = dict[str, Any]


def service_input(doc: Mapping[str, Any]) -> JSONDict:
    """The ``ServiceInput`` schema of an OpenAPI 3 or Swagger 2.0 document."""
    defs = doc.get("components", {}).get("schemas") or doc.get("definitions") or {}
    schema = defs.get("ServiceInput")
    if not isinstance(schema, dict):
        raise CodegenError("the spec has no ServiceInput schema; is this an Azure ML scoring swagger?")
    return schema


def family_of(doc: Mapping[str, Any]) -> Family:
    """The contract family of a swagger: the client's own detection
    (:func:`bankmarketing_client.contract.detect_contract`), so that the generated client and the hand-written one
    can never read the same swagger as different families."""
    try:
        return get_family(detect_contract(doc).family)
    except ConfigurationError as exc:
        raise CodegenError(str(exc)) from None


def settings_of(doc: Mapping[str, Any]) -> CodegenSettings:
    """The codegen settings of the swagger's family (CodegenError if the family has none)."""
    family = family_of(doc)
    if family.codegen is None:
        raise CodegenError(f"the {family.name!r} contract has no codegen settings")
    return family.codegen


def _records_node(doc: Mapping[str, Any]) -> JSONDict:
    """The schema that holds the records (``data``'s parent), following the family's ``records_parent``."""
    node: Mapping[str, Any] = service_input(doc)
    for name in settings_of(doc).records_parent:
        node = resolve_ref(doc, (node.get("properties") or {}).get(name))
    return node  # type: ignore[return-value]


def record_schema(doc: Mapping[str, Any]) -> JSONDict:
    """The schema of one record (the items of the ``data`` array), wherever the family puts it; CodegenError for a
    family that sends rows (its swagger declares no record)."""
    if family_of(doc).record_layout == "row":
        raise CodegenError(f"the {family_of(doc).name!r} contract sends rows of values; its swagger has no record")
    data = resolve_ref(doc, (_records_node(doc).get("properties") or {}).get("data"))
    items = resolve_ref(doc, data.get("items"))  # the node itself, not a copy: the overlay edits it in place
    if not isinstance(items, dict) or not items.get("properties"):
        raise CodegenError("the data array's items declare no properties")
    return items


def has_record(doc: Mapping[str, Any]) -> bool:
    """Whether the family's swagger declares one record's schema (it does unless the family sends rows)."""
    return family_of(doc).record_layout == "object"


def overlay_frame(doc: JSONDict) -> None:
    """A split frame's real shape, in place: ``data`` rows of any values, integer ``index``, named ``columns``."""
    frame = _records_node(doc)
    props = frame.get("properties") or {}
    if isinstance(props.get("data"), dict):
        props["data"]["items"] = {"type": "array", "items": {}, "description": "One row: the values in columns order."}
    if isinstance(props.get("index"), dict):
        props["index"]["items"] = {"type": "integer"}
    columns = detect_contract(doc).column_order
    if isinstance(props.get("columns"), dict):
        props["columns"]["items"] = {"type": "string", "enum": list(columns)}
        props["columns"]["description"] = "The column names, in this order: " + ", ".join(columns) + "."


def feature_overlay(domain: Domain, source: str) -> JSONDict:
    """The committed, data-derived part of the overlay: per-property additions by wire name."""
    properties: JSONDict = {
        wire: {"enum": list(values), "description": f"One of the {len(values)} categories seen in the training data."}
        for wire, values in domain.categories.items()
    }
    for wire, rng in domain.numeric.items():
        as_num: type[int] | type[float] = int if rng.is_integer else float
        text = f"Training data range {as_num(rng.observed_min)} to {as_num(rng.observed_max)}."
        if wire in SENTINELS and rng.below_sentinel_max is not None:
            text = (
                f"Training data range {as_num(rng.observed_min)} to {as_num(rng.below_sentinel_max)}, "
                f"plus the sentinel: {SENTINELS[wire][1]}."
            )
        properties[wire] = {"minimum": as_num(rng.minimum), "maximum": as_num(rng.maximum), "description": text}
    return {"source": source, "rows": domain.rows, "properties": properties}


def overlay_record(schema: JSONDict, features: Mapping[str, Any]) -> None:
    """Merge the feature overlay into the record's properties, in place (types stay the swagger's)."""
    for wire, prop in schema["properties"].items():
        prop.update(copy.deepcopy(features["properties"].get(wire, {})))


_TEXT_ERROR: JSONDict = {
    "description": (
        "An error from the container (JSON {message}), Azure's front layer (401, 408, 413, 424, 429, 502, 503) "
        "or gunicorn (an HTML page): read it as text."
    ),
    "content": {"text/plain": {"schema": {"type": "string"}}},
}
_HEALTH_OK: JSONDict = {
    "description": "The service is up; the body is the plain text 'Healthy'.",
    "content": {"text/plain": {"schema": {"type": "string"}, "example": "Healthy"}},
}
_DOUBLE_ENCODED: JSONDict = {
    "description": (
        "A JSON string that itself holds JSON (double-encoded): '{\"result\": [...]}' on success, or "
        '\'{"error": "..."}\' when the scoring script caught an error (still HTTP 200). Decode it again.'
    ),
    "content": {"application/json": {"schema": {"type": "string"}, "example": '{"result": ["no", "yes"]}'}},
}
_RESULTS_SCHEMA: JSONDict = {
    "type": "object",
    "required": ["Results"],
    "properties": {
        "Results": {
            "type": "array",
            "description": "One entry per record: a label for predict, a list of class probabilities for predict_proba.",
            "items": {},
        }
    },
}
_BARE_LIST: JSONDict = {
    "type": "array",
    "description": (
        "One entry per row: a label, or [P(no), P(yes)] from a deployment whose MLflow model predicts probabilities."
    ),
    "items": {},
}
_METHODS = ["predict", "predict_proba"]


def _operations(doc: JSONDict) -> dict[str, JSONDict]:
    """Operations by path for the three paths Azure serves (missing ones are skipped)."""
    paths: JSONDict = doc.get("paths") or {}
    return {
        p: paths[p][m] for p, m in (("/", "get"), ("/score", "post"), ("/swagger.json", "get")) if m in paths.get(p, {})
    }


def overlay_responses(doc: JSONDict, settings: CodegenSettings) -> None:
    """Give every operation its real response types, in place."""
    ops = _operations(doc)
    for op in ops.values():
        responses = op.setdefault("responses", {})
        responses["default"] = copy.deepcopy(_TEXT_ERROR)
    if "/" in ops:
        ops["/"]["responses"]["200"] = copy.deepcopy(_HEALTH_OK)
    if "/swagger.json" in ops:
        ops["/swagger.json"]["responses"]["200"] = {
            "description": "The service's own swagger document.",
            "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
        }
    if "/score" in ops:
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        if settings.answer == "double-encoded":
            ops["/score"]["responses"]["200"] = copy.deepcopy(_DOUBLE_ENCODED)
            schemas.pop("ServiceOutput", None)
        elif settings.answer == "bare-list":
            schemas["ServiceOutput"] = copy.deepcopy(_BARE_LIST)
            ops["/score"]["responses"]["200"] = {
                "description": "The predictions, one per row, as a bare JSON list.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ServiceOutput"}}},
            }
        else:
            schemas["ServiceOutput"] = copy.deepcopy(_RESULTS_SCHEMA)
            ops["/score"]["responses"]["200"] = {
                "description": "The predictions, one per record, as plain JSON.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ServiceOutput"}}},
            }


def overlay_method(doc: JSONDict) -> None:
    """The scoring method is a closed set: ``predict`` or ``predict_proba`` (where the family sends one)."""
    path = settings_of(doc).method_path or ()
    target: Any = service_input(doc)
    for name in path:
        target = resolve_ref(doc, (target.get("properties") or {}).get(name)) if isinstance(target, Mapping) else None
    if path and isinstance(target, dict) and target.get("type") == "string":
        target["enum"] = list(_METHODS)


def features_apply(doc: JSONDict, features: Mapping[str, Any]) -> bool:
    """The data's rules apply only to a record with exactly the data's features (not, say, bike sharing)."""
    return has_record(doc) and set(record_schema(doc)["properties"]) == set(features["properties"])


def apply_overlay(doc: Mapping[str, Any], features: Mapping[str, Any] | None) -> JSONDict:
    """A new OpenAPI 3 document with the overlay applied (the input is not modified)."""
    out: JSONDict = copy.deepcopy(dict(doc))
    if not str(out.get("openapi", "")).startswith("3."):
        raise CodegenError("the overlay applies to OpenAPI 3 documents; convert Swagger 2.0 first")
    overlay_responses(out, settings_of(out))
    overlay_method(out)
    if not has_record(out):
        overlay_frame(out)
    if features is not None and features_apply(out, features):
        overlay_record(record_schema(out), features)
    out.pop("servers", None)  # the base URL is given to the client at run time, never baked in
    return out
