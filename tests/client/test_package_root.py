"""The public surface at the package root: every advertised name resolves, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

import bankmarketing_client


@pytest.mark.parametrize("name", sorted(bankmarketing_client.__all__))
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(bankmarketing_client, name) is not None


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        bankmarketing_client.Nope  # noqa: B018


def test_importing_the_package_loads_no_http_or_validation_stack() -> None:
    code = (
        "import sys, bankmarketing_client\n"
        "heavy = [m for m in ('httpx', 'pydantic', 'tenacity', 'pandas', 'sklearn') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
        "bankmarketing_client.ScoringClient\n"
        "print('httpx' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    first, second = done.stdout.splitlines()
    assert first == ""
    assert second == "True"  # the client is loaded when first asked for


def test_version_is_the_installed_metadata_written_once_in_pyproject() -> None:
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert bankmarketing_client.__version__ == version("bankmarketing-client") == pyproject["project"]["version"]


def test_the_user_agent_names_the_same_version() -> None:
    from bankmarketing_client.client import USER_AGENT

    assert USER_AGENT.startswith(f"bankmarketing-client/{bankmarketing_client.__version__} python-httpx/")


def test_version_falls_back_when_the_package_is_not_installed() -> None:
    """A source tree on sys.path without metadata still imports, with a version that cannot pass for a release."""
    code = (
        "import importlib.metadata as m\n"
        "def missing(name):\n"
        "    raise m.PackageNotFoundError(name)\n"
        "m.version = missing\n"
        "import bankmarketing_client\n"
        "print(bankmarketing_client.__version__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "0+unknown"
