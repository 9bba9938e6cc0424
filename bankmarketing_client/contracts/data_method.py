"""The ``data-method`` family (late 2021): the ``data`` body plus ``"method": "predict"``, answered as ``data``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from bankmarketing_client.contracts.data import Data
from bankmarketing_client.contracts.family import CodegenSettings, Method


class DataMethod(Data):
    name: ClassVar[str] = "data-method"
    summary: ClassVar[str] = '`{"data": [record, ...], "method": "predict"}`'
    source: ClassVar[str] = "AutoML swagger of 2021-12"
    shapes: ClassVar[tuple[str, ...]] = ("v3",)
    specificity: ClassVar[int] = 1
    codegen: ClassVar[CodegenSettings | None] = CodegenSettings(
        records_parent=(), answer="double-encoded", method_path=("method",)
    )
    #: The local endpoint serves ``data`` only; a v3 service is the same script with a method it ignores.
    local_entry: ClassVar[str | None] = None

    def build_body(
        self, records: Sequence[Mapping[str, Any]], method: Method, options: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {"data": list(records), "method": method}

    def body_bytes(self, records_json: bytes, rows: int, method: Method, options: Mapping[str, Any]) -> bytes:
        return b'{"data":%s,"method":"%s"}' % (records_json, method.encode())

    def recognise(
        self, properties: Mapping[str, Any], schema: Mapping[str, Any], answer: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        return {} if "data" in properties and "method" in properties else None


FAMILY = DataMethod()
