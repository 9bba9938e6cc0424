"""Azure's pending-request limit, the one vocabulary the batch scorer, Spark and discovery share.

A managed online deployment answers 429 once more than ``2 x max_concurrent_requests_per_instance x
instance_count`` requests are pending. Whatever knows that number (a v2 discovery's ``OnlineEndpointInfo``, a
settings file written by ``discover --settings-file``, the local endpoint's ``FrontLimits``) is an
:class:`EndpointLimits`, so a run can start there instead of probing for it.
"""

from __future__ import annotations

import logging
from typing import Final, Protocol

from bankmarketing_client.errors import ConfigurationError

logger = logging.getLogger("bankmarketing_client.limits")

#: The most requests a run keeps in flight because an endpoint's pending limit says it may: a larger limit (a settings
#: file is edited by hand; ``100000`` once meant 99,998 connections and a storm of 429s) is clamped to it, with one
#: warning. Azure documents no maximum for ``max_concurrent_requests_per_instance``, and caps instances per deployment
#: by quota (a few dozen by default); the bound is the client's own: 1,000 is ``2 x 10 x 50`` (10 concurrent requests
#: on each of 50 instances), and past it one process gains nothing, since it holds one connection per request in
#: flight and one Python process sends a few thousand requests per second at best (Locust: ~3,000 to 6,000).
MAX_PENDING_LIMIT: Final = 1000


class EndpointLimits(Protocol):
    """Anything that knows Azure's pending limit for the endpoint: a v2 discovery's ``OnlineEndpointInfo`` (weighted
    by its traffic split) or ``DeploymentInfo``, a saved ``EndpointSettingsFile``, the local endpoint's
    ``FrontLimits``; :func:`pending_limit` computes it from plain numbers."""

    @property
    def pending_limit(self) -> int: ...


def pending_limit(max_concurrent_requests_per_instance: int, instance_count: int) -> int:
    """Azure's rule: requests pending past ``2 x max_concurrent_requests_per_instance x instance_count`` get 429."""
    if max_concurrent_requests_per_instance < 1 or instance_count < 1:
        raise ConfigurationError("max_concurrent_requests_per_instance and instance_count must be at least 1")
    return 2 * max_concurrent_requests_per_instance * instance_count


def checked_pending_limit(limits: EndpointLimits) -> int:
    """``limits.pending_limit``, refused (one line) unless it is a whole number of at least 1, and at most
    :data:`MAX_PENDING_LIMIT` (a larger one is clamped to it, with one warning saying so)."""
    limit = limits.pending_limit
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ConfigurationError(f"the endpoint's pending limit must be a whole number of at least 1, not {limit!r}")
    if limit > MAX_PENDING_LIMIT:
        named = getattr(limits, "endpoint", None) or getattr(limits, "name", None)
        logger.warning(
            "the pending limit of %s is %d, more than one client can use: keeping at most %d requests in flight",
            f"endpoint {named!r}" if isinstance(named, str) else "the endpoint",
            limit,
            MAX_PENDING_LIMIT,
        )
        return MAX_PENDING_LIMIT
    return limit
