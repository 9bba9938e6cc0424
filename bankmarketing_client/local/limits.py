"""The front's limits, described once: :class:`~.front.FrontConfig`, ``LocalEndpoint`` and ``local serve`` share them.

Its own module, free of aiohttp, so that the CLI can show the defaults without the ``local`` extra installed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class FrontLimits:
    """Azure's managed online endpoint defaults (FIELD-NOTES section 3); every field can be lowered for tests."""

    #: 408 past this time, the body's upload included.
    request_timeout_ms: int = 5000
    max_concurrent_requests_per_instance: int = 2
    instance_count: int = 1
    #: 429 above this many pending requests; ``None`` is Azure's rule (:attr:`pending_limit`).
    max_pending: int | None = None
    #: 413 above this body size (Azure: 25 MiB).
    max_body_bytes: int = 25 * 1024 * 1024
    #: A connection must send complete request headers within this time of opening, or of its previous answer
    #: (so it also closes idle keep-alive connections; longer than the client's 30 s keep-alive expiry).
    header_timeout_ms: int = 60_000

    def __post_init__(self) -> None:
        """Refuse limits under which nothing can work (a 0 ms timeout, a 0-byte body, no concurrency)."""
        for name, value in self.to_dict().items():
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")

    @property
    def pending_limit(self) -> int:
        """Azure answers 429 past ``2 x max_concurrent_requests_per_instance x instances`` pending requests."""
        if self.max_pending is not None:
            return self.max_pending
        return 2 * self.max_concurrent_requests_per_instance * self.instance_count

    @property
    def concurrency(self) -> int:
        """Requests the front lets through to the container at once."""
        return self.max_concurrent_requests_per_instance * self.instance_count

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrontLimits:
        return cls(**data)


#: The defaults, for signatures and argparse.
DEFAULT_LIMITS = FrontLimits()
