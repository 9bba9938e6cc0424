"""The overlay: what Azure's swagger lacks or gets wrong, applied to an OpenAPI 3 document.

* Record properties get ``enum`` (categories seen in the data), ``minimum``/``maximum`` (see
  :mod:`codegen.domain`) and a description; ``pdays`` documents its 999 sentinel.
* ``/score``'s 200 response gets its real type: the **data** family answers a JSON string that itself holds
  JSON (double-encoded), the **inputs** family answers ``{"Results": [...]}`` of any JSON values.
* The health check ``GET /`` answers ``text/plain`` (``Healthy``), not JSON.
* Error responses (``default``) are declared ``text/plain``: the container, Azure's front and gunicorn answer
  401/408/424/429/500/502 with JSON, plain text or HTML, so the client must not be generated to parse JSON.
* ``GET /swagger.json`` answers a JSON object (the document), not a string.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Literal

from codegen.domain import SENTINELS, Domain
from codegen.errors import CodegenError

Family = Literal["inputs", "data"]
JSONDict = dict[str, Any]


def _resolve(doc: Mapping[str, Any], schema: Mapping[str, Any]) -> Any:
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return schema
    node: Any = doc
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def service_input(doc: Mapping[str, Any]) -> JSONDict:
    """The ``ServiceInput`` schema of an OpenAPI 3 or Swagger 2.0 document."""
    defs = doc.get("components", {}).get("schemas") or doc.get("definitions") or {}
    schema = defs.get("ServiceInput")
    if not isinstance(schema, dict):
        raise CodegenError("the spec has no ServiceInput schema; is this an Azure ML scoring swagger?")
    return schema


def family_of(doc: Mapping[str, Any]) -> Family:
    """``inputs`` when the request wraps records in ``Inputs``, else ``data``."""
    props = service_input(doc).get("properties") or {}
    if "Inputs" in props:
        return "inputs"
    if "data" in props:
        return "data"
    raise CodegenError("ServiceInput has neither an 'Inputs' nor a 'data' property")


def record_schema(doc: Mapping[str, Any]) -> JSONDict:
    """The schema of one record (the items of the ``data`` array), wherever the family puts it."""
    node: Any = service_input(doc)
    if family_of(doc) == "inputs":
        node = _resolve(doc, node["properties"]["Inputs"])
    data = _resolve(doc, node["properties"]["data"])
    items = _resolve(doc, data.get("items") or {})
    if not isinstance(items, dict) or not items.get("properties"):
        raise CodegenError("the data array's items declare no properties")
    return items


def overlay_record(schema: JSONDict, domain: Domain) -> None:
    """Add categories, bounds and descriptions in place, for the features the data knows about."""
    for wire, prop in schema["properties"].items():
        if wire in domain.categories and prop.get("type") == "string":
            prop["enum"] = list(domain.categories[wire])
            prop["description"] = (
                f"One of the {len(domain.categories[wire])} categories seen in the training data."
            )
        elif wire in domain.numeric and prop.get("type") in {"integer", "number"}:
            rng = domain.numeric[wire]
            as_num = int if prop["type"] == "integer" else float
            prop["minimum"] = as_num(rng.minimum)
            prop["maximum"] = as_num(rng.maximum)
            text = f"Training data range {as_num(rng.observed_min)} to {as_num(rng.observed_max)}."
            if wire in SENTINELS and rng.below_sentinel_max is not None:
                text = (
                    f"Training data range {as_num(rng.observed_min)} to {as_num(rng.below_sentinel_max)}, "
                    f"plus the sentinel: {SENTINELS[wire][1]}."
                )
            prop["description"] = text


def apply_overlay(doc: Mapping[str, Any], domain: Domain | None) -> JSONDict:
    """A new OpenAPI 3 document with the overlay applied (the input is not modified)."""
    out: JSONDict = copy.deepcopy(dict(doc))
    if not str(out.get("openapi", "")).startswith("3."):
        raise CodegenError("the overlay applies to OpenAPI 3 documents; convert Swagger 2.0 first")
    if domain is not None:
        overlay_record(record_schema(out), domain)
    return out
