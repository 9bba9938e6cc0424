from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.service_input_input_data_columns_item import (
    ServiceInputInputDataColumnsItem,
)

T = TypeVar("T", bound="ServiceInputInputData")


@_attrs_define
class ServiceInputInputData:
    """
    Attributes:
        columns (list[ServiceInputInputDataColumnsItem]): The column names, in this order: age, job, marital, education,
            default, housing, loan, contact, month, day_of_week, duration, campaign, pdays, previous, poutcome,
            emp.var.rate, cons.price.idx, cons.conf.idx, euribor3m, nr.employed.
        index (list[int]):
        data (list[list[Any]]):
    """

    columns: list[ServiceInputInputDataColumnsItem]
    index: list[int]
    data: list[list[Any]]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        columns = []
        for columns_item_data in self.columns:
            columns_item = columns_item_data.value
            columns.append(columns_item)

        index = self.index

        data = []
        for data_item_data in self.data:
            data_item = data_item_data

            data.append(data_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "columns": columns,
                "index": index,
                "data": data,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        columns = []
        _columns = d.pop("columns")
        for columns_item_data in _columns:
            columns_item = ServiceInputInputDataColumnsItem(columns_item_data)

            columns.append(columns_item)

        index = cast(list[int], d.pop("index"))

        data = []
        _data = d.pop("data")
        for data_item_data in _data:
            data_item = cast(list[Any], data_item_data)

            data.append(data_item)

        service_input_input_data = cls(
            columns=columns,
            index=index,
            data=data,
        )

        service_input_input_data.additional_properties = d
        return service_input_input_data

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
