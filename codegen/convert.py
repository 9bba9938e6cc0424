"""A focused Swagger 2.0 -> OpenAPI 3.0.3 converter for the documents Azure ML scoring services publish.

Why our own: the maintained converters are either npm (``swagger2openapi``; needs Node) or pull zeep and lxml
(``spec2openapi``) for one pure-JSON transformation of a small, known subset. This handles exactly that subset,
and refuses the rest of Swagger 2.0 by name, so a document it cannot convert faithfully fails loudly instead of
generating a wrong client. The subset: ``info``, ``host``/``basePath``/``schemes``, global and per-operation
``consumes``/``produces``, ``securityDefinitions`` (apiKey, basic), ``definitions``, ``body`` / ``query`` /
``header`` / ``path`` parameters, response ``schema``, ``headers`` and ``examples``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from codegen.errors import CodegenError

JSONDict = dict[str, Any]
OPENAPI_VERSION = "3.0.3"
_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
_PARAM_SCHEMA_KEYS = (
    "type",
    "format",
    "items",
    "enum",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
)
_SIMPLE_IN = frozenset({"query", "header", "path"})


def _fix_refs(node: Any) -> Any:
    """Rewrite ``#/definitions/X`` to ``#/components/schemas/X`` everywhere, and drop 2.0-only schema keys."""
    if isinstance(node, dict):
        out: JSONDict = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                if not value.startswith("#/definitions/"):
                    raise CodegenError(f"unsupported $ref {value!r}: only local #/definitions/ references")
                out[key] = "#/components/schemas/" + value.removeprefix("#/definitions/")
            elif key == "x-nullable":
                out["nullable"] = bool(value)
            else:
                out[key] = _fix_refs(value)
        return out
    if isinstance(node, list):
        return [_fix_refs(v) for v in node]
    return node


def _servers(doc: Mapping[str, Any]) -> list[JSONDict]:
    host = doc.get("host")
    base = doc.get("basePath", "")
    if not host:
        return [{"url": base or "/"}]
    schemes = doc.get("schemes") or ["https"]
    return [{"url": f"{scheme}://{host}{base}"} for scheme in schemes]


def _security_schemes(definitions: Mapping[str, Any]) -> JSONDict:
    out: JSONDict = {}
    for name, scheme in definitions.items():
        kind = scheme.get("type")
        if kind == "apiKey":
            out[name] = {k: scheme[k] for k in ("type", "name", "in", "description") if k in scheme}
        elif kind == "basic":
            out[name] = {"type": "http", "scheme": "basic"}
            if "description" in scheme:
                out[name]["description"] = scheme["description"]
        else:
            raise CodegenError(f"security scheme {name!r} of type {kind!r} is not supported by this converter")
    return out


def _parameter(param: Mapping[str, Any], where: str) -> JSONDict:
    location = param.get("in")
    if location not in _SIMPLE_IN:
        raise CodegenError(f"{where}: parameter {param.get('name')!r} in {location!r} is not supported")
    out: JSONDict = {k: param[k] for k in ("name", "in", "description", "required") if k in param}
    if location == "path":
        out["required"] = True
    schema = {k: param[k] for k in _PARAM_SCHEMA_KEYS if k in param}
    if param.get("collectionFormat", "csv") not in {"csv", "multi"}:
        raise CodegenError(f"{where}: collectionFormat {param['collectionFormat']!r} is not supported")
    if param.get("collectionFormat") == "multi":
        out["explode"] = True
    elif schema.get("type") == "array":
        out["explode"] = False
    out["schema"] = _fix_refs(schema)
    return out


def _response(response: Mapping[str, Any], produces: list[str]) -> JSONDict:
    out: JSONDict = {"description": response.get("description", "")}
    examples: Mapping[str, Any] = response.get("examples") or {}
    if "schema" in response:
        schema = _fix_refs(response["schema"])
        content: JSONDict = {}
        for media in produces:
            entry: JSONDict = {"schema": copy.deepcopy(schema)}
            if media in examples:
                entry["example"] = examples[media]
            content[media] = entry
        out["content"] = content
    if "headers" in response:
        out["headers"] = {
            name: {
                **({"description": h["description"]} if "description" in h else {}),
                "schema": {k: h[k] for k in _PARAM_SCHEMA_KEYS if k in h},
            }
            for name, h in response["headers"].items()
        }
    return out


def _operation(op: Mapping[str, Any], doc: Mapping[str, Any], where: str, shared: list[Any]) -> JSONDict:
    consumes: list[str] = op.get("consumes") or doc.get("consumes") or ["application/json"]
    produces: list[str] = op.get("produces") or doc.get("produces") or ["application/json"]
    out: JSONDict = {
        k: copy.deepcopy(op[k])
        for k in ("operationId", "summary", "description", "tags", "deprecated", "security")
        if k in op
    }
    params: list[JSONDict] = []
    for param in [*shared, *(op.get("parameters") or [])]:
        if "$ref" in param:
            raise CodegenError(f"{where}: parameter references are not supported")
        if param.get("in") == "body":
            body: JSONDict = {"content": {m: {"schema": _fix_refs(param.get("schema", {}))} for m in consumes}}
            if "description" in param:
                body["description"] = param["description"]
            if param.get("required"):
                body["required"] = True
            out["requestBody"] = body
        elif param.get("in") == "formData":
            raise CodegenError(f"{where}: formData parameters are not supported by this converter")
        else:
            params.append(_parameter(param, where))
    if params:
        out["parameters"] = params
    out["responses"] = {str(code): _response(resp, produces) for code, resp in (op.get("responses") or {}).items()}
    return out


def swagger2_to_openapi3(doc: Mapping[str, Any]) -> JSONDict:
    """Convert one Swagger 2.0 document; OpenAPI 3 documents are returned as a copy, unchanged."""
    if str(doc.get("openapi", "")).startswith("3."):
        return copy.deepcopy(dict(doc))
    if doc.get("swagger") != "2.0":
        raise CodegenError("not a Swagger 2.0 or OpenAPI 3 document (no 'swagger: 2.0' or 'openapi: 3.x' field)")
    out: JSONDict = {"openapi": OPENAPI_VERSION, "info": copy.deepcopy(doc.get("info") or {})}
    out["info"].setdefault("title", "API")
    out["info"].setdefault("version", "1.0")
    out["servers"] = _servers(doc)
    paths: JSONDict = {}
    for path, item in (doc.get("paths") or {}).items():
        shared = item.get("parameters") or []
        new_item: JSONDict = {}
        for method, op in item.items():
            if method in _HTTP_METHODS:
                new_item[method] = _operation(op, doc, f"{method.upper()} {path}", shared)
            elif method.startswith("x-"):
                new_item[method] = copy.deepcopy(op)
            elif method != "parameters":
                raise CodegenError(f"{path}: unsupported path item field {method!r}")
        paths[path] = new_item
    out["paths"] = paths
    components: JSONDict = {}
    if doc.get("definitions"):
        components["schemas"] = _fix_refs(doc["definitions"])
    if doc.get("securityDefinitions"):
        components["securitySchemes"] = _security_schemes(doc["securityDefinitions"])
    for unsupported in ("parameters", "responses"):
        if doc.get(unsupported):
            raise CodegenError(f"global '{unsupported}' definitions are not supported by this converter")
    if components:
        out["components"] = components
    for key in ("security", "tags", "externalDocs"):
        if key in doc:
            out[key] = copy.deepcopy(doc[key])
    out.update({k: copy.deepcopy(v) for k, v in doc.items() if k.startswith("x-")})
    return out
