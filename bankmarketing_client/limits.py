"""Azure's pending-request limit, the one vocabulary the batch scorer, Spark and discovery share.

A managed online deployment answers 429 once more than ``2 x max_concurrent_requests_per_instance x
instance_count`` requests are pending. Whatever knows that number (a v2 discovery's ``OnlineEndpointInfo``, a
settings file written by ``discover --settings-file``, the local endpoint's ``FrontLimits``) is an
:class:`EndpointLimits`, so a run can start there instead of probing for it.
"""

from __future__ import annotations

from typing import Protocol

from bankmarketing_client.errors import ConfigurationError


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
    """``limits.pending_limit``, refused (one line) unless it is a whole number of at least 1."""
    limit = limits.pending_limit
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ConfigurationError(f"the endpoint's pending limit must be a whole number of at least 1, not {limit!r}")
    return limit
