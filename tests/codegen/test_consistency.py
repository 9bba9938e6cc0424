"""The project's three views of one record agree, name for name and in order.

The pydantic model (``bankmarketing_client.features``), the generated attrs ``Record.to_dict()`` of each
contract family, and the property names of the committed swagger snapshots.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bankmarketing_client._generated.data.models import Record as DataRecord
from bankmarketing_client._generated.inputs.models import Record as InputsRecord
from bankmarketing_client.data import FEATURE_COLUMNS
from bankmarketing_client.features import FEATURE_NAMES, BankMarketingRecord
from codegen.overlay import record_schema
from codegen.project import snapshot_path

RECORDS: dict[str, Any] = {"inputs": InputsRecord, "data": DataRecord}


@pytest.fixture
def wire_record() -> dict[str, Any]:
    return {
        "age": 57,
        "job": "technician",
        "marital": "married",
        "education": "high.school",
        "default": "no",
        "housing": "no",
        "loan": "yes",
        "contact": "cellular",
        "month": "may",
        "day_of_week": "mon",
        "duration": 371,
        "campaign": 1,
        "pdays": 999,
        "previous": 1,
        "poutcome": "failure",
        "emp.var.rate": -1.8,
        "cons.price.idx": 92.893,
        "cons.conf.idx": -46.2,
        "euribor3m": 1.299,
        "nr.employed": 5099.1,
    }


@pytest.mark.parametrize("family", ["inputs", "data"])
@pytest.mark.parametrize("version", [2, 3])
def test_aliases_attrs_keys_and_swagger_names_are_one_ordered_list(
    family: str, version: int, wire_record: dict[str, Any]
) -> None:
    swagger_names = list(record_schema(json.loads(snapshot_path(family, version).read_text()))["properties"])
    aliases = [field.alias for field in BankMarketingRecord.model_fields.values()]
    attrs_keys = list(RECORDS[family].from_dict(wire_record).to_dict())
    assert aliases == attrs_keys == swagger_names == list(FEATURE_NAMES) == list(FEATURE_COLUMNS)


@pytest.mark.parametrize("family", ["inputs", "data"])
def test_both_models_put_the_same_record_on_the_wire(family: str, wire_record: dict[str, Any]) -> None:
    shuffled = dict(reversed(list(wire_record.items())))
    pydantic_wire = BankMarketingRecord.model_validate(shuffled).to_wire()
    attrs_wire = RECORDS[family].from_dict(shuffled).to_dict()
    assert json.dumps(pydantic_wire) == json.dumps(attrs_wire) == json.dumps(wire_record)


def test_generated_enums_hold_the_same_categories_as_the_pydantic_literals() -> None:
    from bankmarketing_client._generated.inputs.models import RecordJob
    from bankmarketing_client.features import CATEGORIES

    assert tuple(member.value for member in RecordJob) == CATEGORIES["job"]
    with pytest.raises(ValueError, match="astronaut"):
        RecordJob("astronaut")
