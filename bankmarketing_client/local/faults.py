"""Opt-in fault injection for the local front, so reliability tests exercise real HTTP failures."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any


class Fault(Enum):
    NONE = "none"
    UNAVAILABLE = "503"
    THROTTLED = "429"
    RESET = "reset"


@dataclass(frozen=True)
class FaultSpec:
    """Shares (0..1) of ``/score`` requests that fail, and latency added to every ``/score`` request.

    The draw is seeded, so a run with the same spec and request order sees the same faults.
    """

    unavailable_ratio: float = 0.0
    throttled_ratio: float = 0.0
    retry_after_seconds: float = 1.0
    reset_ratio: float = 0.0
    latency_ms: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        ratios = (self.unavailable_ratio, self.throttled_ratio, self.reset_ratio)
        if any(not 0.0 <= r <= 1.0 for r in ratios) or sum(ratios) > 1.0:
            raise ValueError("fault ratios must each be within 0..1 and add up to at most 1")
        if self.latency_ms < 0 or self.retry_after_seconds < 0:
            raise ValueError("latency_ms and retry_after_seconds must not be negative")

    @property
    def active(self) -> bool:
        return any((self.unavailable_ratio, self.throttled_ratio, self.reset_ratio, self.latency_ms))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultSpec:
        return cls(**data)


class FaultInjector:
    """Draws the fault for each request from a seeded generator."""

    def __init__(self, spec: FaultSpec) -> None:
        self.spec = spec
        self._random = random.Random(spec.seed)  # noqa: S311 - test traffic shaping, not security

    def draw(self) -> Fault:
        spec = self.spec
        if not (spec.unavailable_ratio or spec.throttled_ratio or spec.reset_ratio):
            return Fault.NONE
        x = self._random.random()
        for fault, share in (
            (Fault.UNAVAILABLE, spec.unavailable_ratio),
            (Fault.THROTTLED, spec.throttled_ratio),
            (Fault.RESET, spec.reset_ratio),
        ):
            if x < share:
                return fault
            x -= share
        return Fault.NONE
