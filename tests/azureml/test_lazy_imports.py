"""The optional Azure and Swagger UI parts must not make ``import bankmarketing_client`` heavy."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import bankmarketing_client
import bankmarketing_client.azureml
import bankmarketing_client.docs
from bankmarketing_client.cli import build_parser
build_parser()
heavy = sorted({name.split(".")[0] for name in sys.modules} & {"azureml", "aiohttp", "swagger_ui_bundle"})
print(",".join(heavy))
"""


def test_azureml_and_docs_modules_import_their_dependencies_lazily() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == ""
