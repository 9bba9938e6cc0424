"""Every real Azure swagger generates a package that imports, passes mypy --strict, and agrees with itself.

One module-scoped generation run over all nine documents (through the CLI entry point, as a user would), then
one mypy run over all the packages, to keep this affordable on two cores.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from codegen.cli import main
from codegen.overlay import record_schema
from codegen.project import families, generate_family


def _package_name(swagger: Path) -> str:
    return "gen_" + swagger.stem.replace("-", "_")


@pytest.fixture(scope="module")
def generated(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    root = tmp_path_factory.mktemp("generated")
    packages: dict[str, Path] = {}
    for swagger in sorted((shared_data / "azure-swagger").glob("*.json")):
        out = root / _package_name(swagger)
        assert main(["--spec", str(swagger), "--output", str(out)]) == 0
        packages[swagger.name] = out
    sys.path.insert(0, str(root))
    yield packages
    sys.path.remove(str(root))
    for name in [m for m in sys.modules if m.startswith("gen_")]:
        del sys.modules[name]


def _import(package: Path, module: str = "") -> ModuleType:
    return importlib.import_module(package.name + (f".{module}" if module else ""))


def _sends_rows(name: str) -> bool:
    """The MLflow shape sends rows of values: its swagger declares no record, so no record model is generated."""
    return "mlflow" in name


def test_all_ten_documents_were_generated(generated: dict[str, Path]) -> None:
    assert len(generated) == 10
    for name, package in generated.items():
        assert (package / "client.py").is_file()
        assert (package / "record_model.py").is_file() != _sends_rows(name)
        assert (package / "api" / "default" / "run_ml_service.py").is_file()


def test_every_package_imports_with_its_api_and_models(generated: dict[str, Path]) -> None:
    for name, package in generated.items():
        root = _import(package)
        assert root.AuthenticatedClient.__name__ == "AuthenticatedClient"
        modules = ["api.default.run_ml_service", "api.default.service_health_check", "models"]
        for module in modules if _sends_rows(name) else [*modules, "record_model"]:
            _import(package, module)


def test_every_package_passes_mypy_strict(generated: dict[str, Path]) -> None:
    """All ten, plus the project's own families (identical to the committed code, see test_codegen_check)."""
    root = next(iter(generated.values())).parent
    project = root / "project"
    own = [generate_family(family, project).relative_to(root).as_posix() for family in families()]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            *sorted(p.name for p in generated.values()),
            *own,
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def _sample_value(schema: dict[str, Any]) -> Any:
    if "enum" in schema:
        return schema["enum"][-1]
    if schema["type"] == "integer":
        return schema.get("minimum", 1)
    if schema["type"] == "number":
        return float(schema.get("maximum", 1.5))
    if schema.get("format") == "date-time":
        return "2011-01-01T00:00:00"
    return "text"


def test_pydantic_aliases_attrs_keys_and_swagger_names_agree_in_order(
    shared_data: Path, generated: dict[str, Path]
) -> None:
    for name, package in generated.items():
        if _sends_rows(name):
            continue
        swagger = json.loads((shared_data / "azure-swagger" / name).read_text())
        wire_names = list(record_schema(swagger)["properties"])
        spec = json.loads((package / "openapi.json").read_text())
        properties = record_schema(spec)["properties"]
        assert list(properties) == wire_names, name
        record_model = _import(package, "record_model")
        aliases = [f.alias for f in record_model.BankMarketingRecord.model_fields.values()]
        assert aliases == wire_names == list(record_model.FEATURE_NAMES), name
        sample = {wire: _sample_value(schema) for wire, schema in properties.items()}
        attrs_keys = list(_import(package, "models").Record.from_dict(sample).to_dict())
        assert attrs_keys == wire_names, name
        # and both models put the same values on the wire
        pydantic_wire = record_model.BankMarketingRecord.model_validate(sample).to_wire()
        assert list(pydantic_wire) == wire_names, name
