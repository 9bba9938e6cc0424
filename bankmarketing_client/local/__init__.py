"""The local endpoint: the real Azure ML inference server and a real model, behind Azure's front layer.

Needs the ``local`` extra (``pip install 'bankmarketing-client[local]'``). Names are imported on first use, so
that ``python -m bankmarketing_client.local.front`` does not import itself twice.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bankmarketing_client.local.endpoint import LocalEndpoint, generate_key
    from bankmarketing_client.local.faults import FaultSpec
    from bankmarketing_client.local.process import LocalEndpointError

_EXPORTS = {
    "LocalEndpoint": "bankmarketing_client.local.endpoint",
    "generate_key": "bankmarketing_client.local.endpoint",
    "FaultSpec": "bankmarketing_client.local.faults",
    "LocalEndpointError": "bankmarketing_client.local.process",
}
__all__ = ["FaultSpec", "LocalEndpoint", "LocalEndpointError", "generate_key"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
