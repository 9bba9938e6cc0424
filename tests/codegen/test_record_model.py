"""The pydantic record emitter on schemas other than the bank's."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from codegen.errors import CodegenError
from codegen.record_model import attribute_name, render_record_module


@pytest.mark.parametrize(
    ("wire", "name"),
    [("emp.var.rate", "emp_var_rate"), ("Age", "age"), ("class", "class_"), ("3d", "f_3d"), ("a-b c", "a_b_c")],
)
def test_attribute_names(wire: str, name: str) -> None:
    assert attribute_name(wire) == name


def _namespace(schema: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Write the module and import it for real (pydantic resolves annotations in the module's globals)."""
    path = folder / "emitted_record.py"
    path.write_text(render_record_module(schema))
    spec = importlib.util.spec_from_file_location("emitted_record", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["emitted_record"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["emitted_record"]
    return vars(module)


def test_rendered_module_validates_with_aliases_enums_and_bounds(tmp_path: Path) -> None:
    schema = {
        "properties": {
            "a.b": {"type": "integer", "minimum": 1, "maximum": 3},
            "kind": {"type": "string", "enum": ["x", "y"]},
            "free": {"type": "string"},
            "f": {"type": "number"},
        }
    }
    ns = _namespace(schema, tmp_path)
    model = ns["BankMarketingRecord"]
    record = model.model_validate({"a.b": 2, "kind": "x", "free": "z", "f": 1})
    assert record.to_wire() == {"a.b": 2, "kind": "x", "free": "z", "f": 1.0}
    assert ns["FEATURE_NAMES"] == ("a.b", "kind", "free", "f")
    assert ns["CATEGORIES"] == {"kind": ("x", "y")}
    with pytest.raises(ValueError, match="valid integer"):  # the model is strict; validate_records converts 2.0
        model.model_validate({"a.b": 2.0, "kind": "x", "free": "z", "f": 1})
    with pytest.raises(ValueError, match="less than or equal"):
        model.model_validate({"a.b": 4, "kind": "x", "free": "z", "f": 1})
    assert ns["LenientBankMarketingRecord"].model_validate({"a.b": 1, "kind": "q", "free": "", "f": 0}).kind == "q"


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"properties": {}}, "no properties"),
        ({"properties": {"a": {"type": "object"}}}, "cannot hold"),
        ({"properties": {"a.b": {"type": "string"}, "a_b": {"type": "string"}}}, "collide"),
    ],
)
def test_refusals(schema: dict[str, Any], message: str) -> None:
    with pytest.raises(CodegenError, match=message):
        render_record_module(schema)
