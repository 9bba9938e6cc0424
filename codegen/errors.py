"""The one error codegen raises for a user mistake (bad spec, unreachable URL), printed as one line."""

from __future__ import annotations


class CodegenError(Exception):
    """A spec cannot be read, converted, overlaid or generated; the message says which and why."""
