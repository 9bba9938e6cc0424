"""The ``inputs`` family (2022-, AutoML's ``scoring_file_v_2_0_0.py``): ``{"Inputs": {"data": [records]},
"GlobalParameters": {"method": "predict"}}``; answers ``{"Results": [...]}``; offers ``predict_proba``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from bankmarketing_client.contracts.family import CodegenSettings, Family, Method


class Inputs(Family):
    name: ClassVar[str] = "inputs"
    summary: ClassVar[str] = '`{"Inputs": {"data": [record, ...]}, "GlobalParameters": {"method": "predict"}}`'
    source: ClassVar[str] = "AutoML scoring_file_v_2_0_0.py swaggers, 2022-01 to 2023-07"
    shapes: ClassVar[tuple[str, ...]] = ("v4", "v5", "v6", "v7")
    codegen: ClassVar[CodegenSettings | None] = CodegenSettings(
        records_parent=("Inputs",), answer="results", method_path=("GlobalParameters", "method")
    )
    local_entry: ClassVar[str | None] = "bankmarketing_client.local.score"
    local_model: ClassVar[str | None] = "bankmarketing_client.local.model:prepare"
    records_member: ClassVar[tuple[str, ...]] = ("Inputs", "data")

    def offers_proba(self, options: Mapping[str, Any]) -> bool:
        return True

    def build_body(
        self, records: Sequence[Mapping[str, Any]], method: Method, options: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {"Inputs": {"data": list(records)}, "GlobalParameters": {"method": method}}

    def body_bytes(self, records_json: bytes, rows: int, method: Method, options: Mapping[str, Any]) -> bytes:
        return b'{"Inputs":{"data":%s},"GlobalParameters":{"method":"%s"}}' % (records_json, method.encode())

    def recognise(
        self, properties: Mapping[str, Any], schema: Mapping[str, Any], answer: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        return {} if "Inputs" in properties else None


FAMILY = Inputs()
