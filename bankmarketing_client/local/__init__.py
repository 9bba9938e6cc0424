"""The local endpoint: the real Azure ML inference server and a real model, behind Azure's front layer.

Needs the ``local`` extra (``pip install 'bankmarketing-client[local]'``). Names are imported on first use, so
that ``python -m bankmarketing_client.local.front`` does not import itself twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bankmarketing_client._lazy import lazy_exports

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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
