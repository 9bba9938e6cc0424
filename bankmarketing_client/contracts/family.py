"""What a contract family is: the one description every part of the package asks about a request shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

Method = Literal["predict", "predict_proba"]
#: How one record travels: a JSON object of wire names, or a JSON array of values in the endpoint's column order.
RecordLayout = Literal["object", "row"]
#: What a 200 answer of the family looks like, for codegen's overlay.
AnswerShape = Literal["double-encoded", "results", "bare-list"]


@dataclass(frozen=True, slots=True)
class CodegenSettings:
    """How codegen treats the family's swagger: where the records sit, and what a 200 answer is."""

    #: Property names from the request body schema to the object whose ``data`` array holds the records.
    records_parent: tuple[str, ...]
    answer: AnswerShape
    #: The body property holding the scoring method, if the family sends one.
    method_path: tuple[str, ...] | None = None


class Family:
    """One contract family. Subclasses set the class attributes and override what differs from the defaults."""

    name: ClassVar[str]
    #: One line for tables and help: the request body, with its date and source.
    summary: ClassVar[str]
    #: Where the shape comes from (a swagger snapshot, a script).
    source: ClassVar[str]
    #: The swagger shapes the family covers in the documentation's contract table.
    shapes: ClassVar[tuple[str, ...]] = ()
    record_layout: ClassVar[RecordLayout] = "object"
    #: Among families that recognise a swagger, the highest wins.
    specificity: ClassVar[int] = 0
    codegen: ClassVar[CodegenSettings | None] = None
    #: The local endpoint's scoring branch: the entry-script module ``local serve`` runs for this family (a name,
    #: not an import: the client side never imports ``local/``), and the value of ``BANKMARKETING_CONTRACT`` for it.
    local_entry: ClassVar[str | None] = None
    #: ``module:function`` that prepares one deployment's model folder for that script: ``(train_path, deployment)
    #: -> (AZUREML_MODEL_DIR, extra environment)``.
    local_model: ClassVar[str | None] = None
    #: The top-level body members that hold records, for :func:`records_in` (``Inputs.data`` is ``("Inputs", "data")``).
    records_member: ClassVar[tuple[str, ...]] = ("data",)

    def __repr__(self) -> str:
        return f"<contract family {self.name}>"

    # -- offers -----------------------------------------------------------------------------------------------
    def offers_proba(self, options: Mapping[str, Any]) -> bool:
        """Whether an endpoint of this family (with the ``options`` read from its swagger) answers probabilities."""
        return False

    def proba_hint(self) -> str:
        """What to do instead, when probabilities are asked of an endpoint that offers none."""
        return "predict_proba needs an 'inputs' endpoint, or an MLflow deployment that answers probabilities"

    # -- bodies -----------------------------------------------------------------------------------------------
    def build_body(
        self, records: Sequence[Mapping[str, Any]], method: Method, options: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The JSON body for ``records`` (validated, wire names) as Python values."""
        raise NotImplementedError

    def body_bytes(self, records_json: bytes, rows: int, method: Method, options: Mapping[str, Any]) -> bytes:
        """The same body around ``rows`` records already serialised as one JSON array in :attr:`record_layout`."""
        raise NotImplementedError

    # -- recognising ------------------------------------------------------------------------------------------
    def recognise(
        self, properties: Mapping[str, Any], schema: Mapping[str, Any], answer: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The options read from a swagger whose scoring input ``schema`` has ``properties`` and whose 200 answer is
        ``answer`` (``{}`` if not declared), or None if it is not this family."""
        return None

    def records_in(self, document: Mapping[str, Any]) -> Any:
        """The records a body of this family carries (``None`` if it is not one): for files users keep."""
        node: Any = document
        for key in self.records_member:
            if not isinstance(node, Mapping) or key not in node:
                return None
            node = node[key]
        return node
