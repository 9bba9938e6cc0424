"""A built wheel installs into a clean virtual environment and works there, as downstream apps will use it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The one place the version is written; the package reads it back from the installed metadata.
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from a copy of the tree: setuptools leaves build/ behind, and a stale build/lib in the checkout
    would put deleted modules into later wheels (and the test would write into the source tree)."""
    source = tmp_path_factory.mktemp("src") / "tree"
    shutil.copytree(
        ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__")
    )
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (built,) = out.glob("bankmarketing_client-*.whl")
    return built


def test_wheel_carries_the_typed_package_and_no_data(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "bankmarketing_client/py.typed" in names
    assert "bankmarketing_client/local/score.py" in names
    assert any(n.startswith("bankmarketing_client/_generated/inputs/") for n in names)
    assert any(n.startswith("bankmarketing_client/_generated/data/") for n in names)
    assert any(n.startswith("bankmarketing_client/_generated/mlflow/") for n in names)
    assert "bankmarketing_client/local/mlflow_score.py" in names
    assert any(n.startswith("bankmarketing_client/contracts/") for n in names)
    assert not [n for n in names if n.endswith(".csv")]
    assert not [n for n in names if n.startswith(("tests/", "codegen/", "loadtest/"))]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "bankmarketing-client = bankmarketing_client.cli:main" in text
    assert "bankmarketing_local = bankmarketing_client.local.pytest_plugin" in text


def test_wheel_installs_and_imports_in_a_clean_venv(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    probe = (
        "import sys, bankmarketing_client as b\n"
        "from bankmarketing_client import ScoringClient, AsyncScoringClient, BankMarketingRecord, APIError\n"
        "from bankmarketing_client.contract import Contract\n"
        "assert Contract.of('mlflow').family == 'mlflow'\n"
        "heavy = [m for m in ('pandas', 'sklearn', 'azureml', 'locust', 'aiohttp', 'mlflow') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "print(b.__version__, ScoringClient.__name__)\n"
    )
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [VERSION, "ScoringClient"]
    installed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout.lower()  # fmt: skip
    assert "mlflow" not in installed  # the mlflow family's model is the local extra's, never the client's
    cli = subprocess.run(
        [str(env_dir / "bin" / "bankmarketing-client"), "--help"], capture_output=True, text=True, timeout=120
    )
    assert cli.returncode == 0, cli.stderr
    assert "local" in cli.stdout


def test_every_library_the_generated_code_imports_is_a_runtime_dependency() -> None:
    """The core imports the generated packages at run time, so whatever they import must be installed with the
    wheel (and nothing more: python-dateutil left when no generated module imported it)."""
    import ast
    import re

    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    installed = {re.split(r"[<>=!~; \[]", d, maxsplit=1)[0].replace("-", "_") for d in dependencies}
    imported: set[str] = set()
    for module in (ROOT / "bankmarketing_client" / "_generated").rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"__future__", "bankmarketing_client"}
    assert third_party, "no imports found: the walk is broken"
    assert third_party <= installed, third_party - installed
