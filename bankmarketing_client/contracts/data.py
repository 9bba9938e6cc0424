"""The ``data`` family (2020-2021, AutoML's classic ``scoring_file_v_1_0_0.py``): ``{"data": [records]}``; answers a
*double-encoded* ``"{\\"result\\": [...]}"`` and reports prediction errors as HTTP 200 ``{"error": ...}``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from bankmarketing_client.contracts.family import CodegenSettings, Family, Method


class Data(Family):
    name: ClassVar[str] = "data"
    summary: ClassVar[str] = '`{"data": [record, ...]}`'
    source: ClassVar[str] = "AutoML scoring_file_v_1_0_0.py swaggers, 2020-09 to 2021-06"
    shapes: ClassVar[tuple[str, ...]] = ("v1", "v2")
    codegen: ClassVar[CodegenSettings | None] = CodegenSettings(records_parent=(), answer="double-encoded")
    local_entry: ClassVar[str | None] = "bankmarketing_client.local.score"
    local_model: ClassVar[str | None] = "bankmarketing_client.local.model:prepare"

    def build_body(
        self, records: Sequence[Mapping[str, Any]], method: Method, options: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {"data": list(records)}

    def body_bytes(self, records_json: bytes, rows: int, method: Method, options: Mapping[str, Any]) -> bytes:
        return b'{"data":%s}' % records_json

    def recognise(
        self, properties: Mapping[str, Any], schema: Mapping[str, Any], answer: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        return {} if "data" in properties else None


FAMILY = Data()
