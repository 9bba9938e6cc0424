"""pytest fixtures for downstream test suites: a real local endpoint, started once per session.

Installed with the package (entry point ``pytest11``); needs the ``local`` extra and the dataset
(``$BANKMARKETING_DATA``). Use ``bankmarketing_endpoint`` for the default (``inputs`` contract), or
``bankmarketing_endpoint_factory(contract="data", faults=FaultSpec(...))`` for endpoints of your own, which are
stopped at the end of the session. The factory takes every :class:`LocalEndpoint` keyword, deployments included::

    ep = bankmarketing_endpoint_factory(deployments=["blue", "green"], traffic={"blue": 90, "green": 10})
    ep.deployment_stats()["green"]["200"]  # each deployment's own counters
    ep.set_traffic({"blue": 0, "green": 100})  # with the endpoint's admin key, as ep.stats() reads them
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from bankmarketing_client.local.endpoint import LocalEndpoint

EndpointFactory = Callable[..., "LocalEndpoint"]


@pytest.fixture(scope="session")
def bankmarketing_endpoint_factory() -> Iterator[EndpointFactory]:
    """Start endpoints with any :class:`LocalEndpoint` settings; all are stopped when the session ends."""
    from bankmarketing_client.local.endpoint import LocalEndpoint

    started: list[LocalEndpoint] = []

    def start(**kwargs: Any) -> LocalEndpoint:
        endpoint = LocalEndpoint(**kwargs)
        endpoint.start()
        started.append(endpoint)
        return endpoint

    yield start
    for endpoint in started:
        endpoint.stop()


@pytest.fixture(scope="session")
def bankmarketing_endpoint(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    """A running local endpoint with the ``inputs`` contract and generated keys."""
    return bankmarketing_endpoint_factory(contract="inputs")
