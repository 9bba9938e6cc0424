"""Run the pipeline: read a spec, bring it to OpenAPI 3, overlay it, and generate one package.

The package is assembled in a temporary folder and only then moved over the output, so a failed run never
leaves a half-written package behind. An existing output folder is replaced only if codegen made it (it holds
``openapi.json``, the overlaid spec the package was generated from).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from codegen.convert import swagger2_to_openapi3
from codegen.errors import CodegenError
from codegen.overlay import apply_overlay, has_record, record_schema
from codegen.record_model import render_record_module

CONFIG = Path(__file__).with_name("config.yaml")
#: Templates that replace openapi-python-client's own by name (the others are its defaults): the endpoint module
#: also exports ``request_kwargs`` / ``parse_response``, what the client core builds its typed calls from.
TEMPLATES = Path(__file__).with_name("templates")
GENERATOR_VERSION = "0.29.1"
RUFF_VERSION = "0.17.6"
SPEC_FILE = "openapi.json"
RECORD_MODULE = "record_model.py"
LINE_LENGTH = "120"


def _bin_dir() -> Path:
    return Path(sys.executable).parent


def _tool(name: str) -> str:
    candidate = _bin_dir() / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        raise CodegenError(f"{name} is not installed; install the codegen extra: pip install -e '.[codegen]'")
    return found


def check_tool_versions() -> None:
    """Byte-identical output needs exactly the pinned generator and formatter."""
    from importlib.metadata import PackageNotFoundError, version

    for package, wanted in (("openapi-python-client", GENERATOR_VERSION), ("ruff", RUFF_VERSION)):
        try:
            found = version(package)
        except PackageNotFoundError:
            raise CodegenError(f"{package}=={wanted} is not installed (pip install -e '.[codegen]')") from None
        if found != wanted:
            raise CodegenError(f"{package} {found} is installed but the output is pinned to {wanted}")


def dumps(doc: Any) -> str:
    """The one JSON spelling used for every file codegen writes (stable diffs)."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def prepare(raw: dict[str, Any], features: dict[str, Any] | None) -> dict[str, Any]:
    """Convert (if needed) and overlay."""
    return apply_overlay(swagger2_to_openapi3(raw), features)


def _run(cmd: list[str], cwd: Path) -> None:
    env = dict(os.environ, PATH=f"{_bin_dir()}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or "Error(s) encountered" in output:
        raise CodegenError(f"{Path(cmd[0]).name} failed (exit {result.returncode}):\n{output}")


def generate_package(spec: dict[str, Any], output: Path, *, source: str = "a swagger document") -> Path:
    """Generate the package for an overlaid OpenAPI 3 ``spec`` into ``output`` (replaced atomically)."""
    check_tool_versions()
    output = output.resolve()
    if output.exists() and any(output.iterdir()) and not (output / SPEC_FILE).is_file():
        raise CodegenError(f"{output} exists and was not made by codegen (no {SPEC_FILE}); refusing to replace it")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".codegen-", dir=output.parent) as tmp:
        work = Path(tmp)
        spec_path = work / SPEC_FILE
        spec_path.write_text(dumps(spec), encoding="utf-8")
        package = work / "package"
        _run(
            [
                _tool("openapi-python-client"),
                "generate",
                "--path",
                str(spec_path),
                "--meta",
                "none",
                "--config",
                str(CONFIG),
                "--custom-template-path",
                str(TEMPLATES),
                "--output-path",
                str(package),
            ],
            cwd=work,
        )
        if has_record(spec):  # a family that sends rows declares no record to type
            record_module = render_record_module(record_schema(spec), source=source)
            (package / RECORD_MODULE).write_text(record_module, encoding="utf-8")
            _run(
                [
                    _tool("ruff"),
                    "format",
                    "--isolated",
                    "--no-cache",
                    "--line-length",
                    LINE_LENGTH,
                    "--target-version",
                    "py311",
                    RECORD_MODULE,
                ],
                cwd=package,
            )
        shutil.rmtree(package / ".ruff_cache", ignore_errors=True)
        shutil.move(str(spec_path), package / SPEC_FILE)
        if output.exists():
            shutil.rmtree(output)
        shutil.move(str(package), output)
    return output
