"""The v2 package and the CLI must not import the Azure SDKs until a v2 function talks to Azure."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import bankmarketing_client.azureml.v2
from bankmarketing_client.cli import build_parser
build_parser().parse_args(["discover", "--endpoint", "bank"])
print(",".join(sorted(n for n in sys.modules if n.split(".")[0] in {"azure", "azureml", "msal"})))
"""


def test_v2_package_imports_no_azure_sdk() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == ""
