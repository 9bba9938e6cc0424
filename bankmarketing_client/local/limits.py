"""The front's limits, described once: :class:`~.front.FrontConfig`, ``LocalEndpoint`` and ``local serve`` share them.

Its own module, free of aiohttp, so that the CLI can show the defaults without the ``local`` extra installed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bankmarketing_client.limits import pending_limit


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
    #: Per deployment: this much latency added to each scoring request (a slower side to compare against).
    added_latency_ms: int | None = None

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
        return pending_limit(self.max_concurrent_requests_per_instance, self.instance_count)

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


#: FrontLimits fields that belong to each deployment (Azure's ``request_settings`` and ``instance_count``); the others
#: (body size, header timeout) are the endpoint's and are taken from the first deployment.
DEPLOYMENT_FIELDS: tuple[str, ...] = (
    "request_timeout_ms",
    "max_concurrent_requests_per_instance",
    "instance_count",
    "max_pending",
    "added_latency_ms",
)
#: ``blue`` serves the model in service, ``green`` the candidate, unless ``NAME=MODEL`` says otherwise.
DEFAULT_MODELS: dict[str, str] = {"green": "balanced"}
MODEL_CHOICES: tuple[str, ...] = ("default", "balanced")
#: What a deployment's model answers where the request cannot choose (an MLflow model's ``predict_fn``): the
#: ``answers=probabilities`` setting makes it the probabilities variant.
ANSWER_CHOICES: tuple[str, ...] = ("labels", "probabilities")
#: Azure caps the mirrored share at 50 %.
MAX_MIRROR_PERCENT = 50


@dataclass(frozen=True)
class Deployment:
    """One deployment: its name, its model variant and its own limits (its own 429/408 accounting)."""

    name: str
    model: str = "default"
    limits: FrontLimits = DEFAULT_LIMITS
    answers: str = "labels"

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("-", "").isalnum() or not self.name[0].isalpha():
            raise ValueError(
                f"deployment name {self.name!r} must start with a letter and hold only letters, digits and '-'"
            )
        if self.model not in MODEL_CHOICES:
            raise ValueError(f"deployment {self.name}: model must be one of {', '.join(MODEL_CHOICES)}")
        if self.answers not in ANSWER_CHOICES:
            raise ValueError(f"deployment {self.name}: answers must be one of {', '.join(ANSWER_CHOICES)}")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model, "limits": self.limits.to_dict(), "answers": self.answers}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Deployment:
        limits = FrontLimits.from_dict(data["limits"])
        return cls(name=data["name"], model=data["model"], limits=limits, answers=data.get("answers", "labels"))


@dataclass(frozen=True)
class Routing:
    """The endpoint's deployments, live traffic (percent, summing to 100 or 0) and mirrored traffic.

    The one description of deployments and their limits: the front, ``LocalEndpoint`` and ``local serve`` share it.
    Validation follows Azure's rules, each refusal one line naming the deployment.
    """

    deployments: tuple[Deployment, ...] = (Deployment("blue"),)
    traffic: dict[str, int] | None = None  # None: all to the first deployment
    mirror: dict[str, int] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        names = [d.name for d in self.deployments]
        if not names:
            raise ValueError("at least one deployment is needed")
        if len(set(names)) != len(names):
            raise ValueError(f"deployment names must be unique, got {', '.join(names)}")
        traffic = self.live
        for label, shares in (("--traffic", traffic), ("--mirror", self.mirrored)):
            for name, share in shares.items():
                if isinstance(share, bool) or not isinstance(share, int):
                    raise ValueError(f"{label} {name}={share!r}: a share is a whole percent")
                if name not in names:
                    raise ValueError(
                        f"{label} names {name!r}, which is not a deployment (deployments: {', '.join(names)})"
                    )
                if share < 0:
                    raise ValueError(f"{label} {name}={share}: a share cannot be negative")
        total = sum(traffic.values())
        if total not in (0, 100):
            raise ValueError(f"--traffic must sum to 100 (or 0 for none), got {total}")
        if len(self.mirrored) > 1:
            raise ValueError("--mirror can copy traffic to one deployment only")
        for name, share in self.mirrored.items():
            if share > MAX_MIRROR_PERCENT:
                raise ValueError(f"--mirror {name}={share}: at most {MAX_MIRROR_PERCENT} % can be mirrored")
            if traffic.get(name, 0) > 0:
                raise ValueError(f"--mirror {name}: a deployment that takes live traffic cannot also be a mirror")

    @property
    def live(self) -> dict[str, int]:
        """Live traffic per deployment, every deployment listed (0 where not given)."""
        given = self.traffic if self.traffic is not None else {self.deployments[0].name: 100}
        return {**{d.name: 0 for d in self.deployments}, **given}

    @property
    def mirrored(self) -> dict[str, int]:
        return {k: v for k, v in (self.mirror or {}).items() if v}

    def deployment(self, name: str) -> Deployment | None:
        return next((d for d in self.deployments if d.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployments": [d.to_dict() for d in self.deployments],
            "traffic": self.traffic,
            "mirror": self.mirror,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Routing:
        return cls(
            deployments=tuple(Deployment.from_dict(d) for d in data["deployments"]),
            traffic=data.get("traffic"),
            mirror=data.get("mirror"),
            seed=int(data.get("seed", 0)),
        )


def parse_shares(text: str, option: str) -> dict[str, int]:
    """``blue=90,green=10`` -> ``{"blue": 90, "green": 10}``; a malformed item is one clear ValueError."""
    shares: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        try:
            share = int(value)
        except ValueError:
            share = None
        if not sep or not name.strip() or share is None:
            raise ValueError(f"{option} {item!r}: expected NAME=PERCENT, e.g. blue=90,green=10")
        if name.strip() in shares:
            raise ValueError(f"{option} names {name.strip()!r} twice")
        shares[name.strip()] = share
    return shares


def parse_deployment(text: str, base: FrontLimits = DEFAULT_LIMITS) -> Deployment:
    """``NAME[=MODEL][,setting=value...]``, e.g. ``green=balanced,request_timeout_ms=300,instance_count=2``.

    Settings are :data:`DEPLOYMENT_FIELDS`; the others come from ``base`` (the command line's endpoint-wide limits).
    ``answers=probabilities`` (:data:`ANSWER_CHOICES`) makes an MLflow deployment's model predict probabilities.
    """
    head, *settings = [part.strip() for part in text.split(",")]
    name, _, model = head.partition("=")
    overrides: dict[str, int] = {}
    answers = "labels"
    for item in settings:
        key, sep, value = item.partition("=")
        if key == "answers" and sep:
            if value not in ANSWER_CHOICES:
                raise ValueError(f"--deployment {name}: answers must be one of {', '.join(ANSWER_CHOICES)}")
            answers = value
            continue
        if not sep or key not in DEPLOYMENT_FIELDS or not value.isdigit():
            raise ValueError(
                f"--deployment {name}: {item!r} is not SETTING=NUMBER with SETTING one of {', '.join(DEPLOYMENT_FIELDS)}"
            )
        overrides[key] = int(value)
    limits = FrontLimits.from_dict({**base.to_dict(), **overrides})
    return Deployment(name=name, model=model or DEFAULT_MODELS.get(name, "default"), limits=limits, answers=answers)
