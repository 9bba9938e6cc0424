"""The contract registry: every request/response family the client speaks, one module each.

A family (:class:`~bankmarketing_client.contracts.family.Family`) holds all that is specific to it: how a body is
built (from dicts, and from records already serialised as JSON, batch's byte path), whether probabilities are
offered, how the family is recognised in an endpoint's swagger, where its records sit in a JSON document, how its
errors look, its codegen settings, and a pointer to the local endpoint's scoring branch (a module name: the client
never imports ``local/``). Every list of families (the CLI's, Locust's, ``local serve``'s, codegen's, the docs
server's) is asked of this registry at the moment it is needed, so a family registered here is offered everywhere.

The built-in families register themselves on first use of :func:`families`; importing this package costs no more
than the four small modules (no numpy, no pydantic).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bankmarketing_client.contracts.family import CodegenSettings, Family, Method, RecordLayout
from bankmarketing_client.errors import ConfigurationError

__all__ = [
    "CodegenSettings",
    "Family",
    "Method",
    "RecordLayout",
    "families",
    "get",
    "names",
    "recognise",
    "register",
    "served_locally",
    "unregister",
]

_REGISTRY: dict[str, Family] = {}


def _builtins() -> None:
    if _REGISTRY:
        return
    from bankmarketing_client.contracts import data, data_method, inputs, mlflow

    for family in (inputs.FAMILY, data.FAMILY, data_method.FAMILY, mlflow.FAMILY):
        _REGISTRY.setdefault(family.name, family)


def register(family: Family) -> Family:
    """Add ``family`` (its name must be new); returns it, so a module can keep ``FAMILY = register(...)``."""
    _builtins()
    if family.name in _REGISTRY:
        raise ValueError(f"a contract family named {family.name!r} is already registered")
    if not family.name or family.name != family.name.strip().lower() or "_" in family.name:
        raise ValueError(f"a family name is lower case with '-' between words, not {family.name!r}")
    _REGISTRY[family.name] = family
    return family


def unregister(name: str) -> None:
    """Remove a family added with :func:`register` (tests do, to leave the registry as they found it)."""
    _builtins()
    _REGISTRY.pop(name, None)


def families() -> tuple[Family, ...]:
    """Every registered family, the built-in ones first, in registration order."""
    _builtins()
    return tuple(_REGISTRY.values())


def names() -> tuple[str, ...]:
    """The names of every registered family (what ``--contract`` offers, ``auto`` aside)."""
    return tuple(family.name for family in families())


def served_locally() -> tuple[str, ...]:
    """The families the local endpoint can serve (those with a scoring branch in ``local/``)."""
    return tuple(family.name for family in families() if family.local_entry is not None)


def get(name: str) -> Family:
    """The family called ``name`` (case and ``_``/``-`` forgiven), or ConfigurationError listing the known ones."""
    normalised = name.strip().lower().replace("_", "-")
    family = {f.name: f for f in families()}.get(normalised)
    if family is None:
        raise ConfigurationError(f"unknown contract {name!r}; expected one of {', '.join(names())}")
    return family


def recognise(
    properties: Mapping[str, Any], schema: Mapping[str, Any], answer: Mapping[str, Any]
) -> tuple[Family, dict[str, Any]]:
    """The family whose swagger input ``properties`` (of the resolved ``schema``; ``answer`` is the 200 answer's)
    describe, and the options it read there (e.g. the columns' order); the most specific family wins
    (``data-method`` before ``data``)."""
    matches = [
        (family, options)
        for family in families()
        if (options := family.recognise(properties, schema, answer)) is not None
    ]
    if not matches:
        shown = ", ".join(sorted(map(str, properties))) or "none"
        raise ConfigurationError(f"unknown scoring input (properties: {shown}); set the contract explicitly")
    return max(matches, key=lambda match: match[0].specificity)
