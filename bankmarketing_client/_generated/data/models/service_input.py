from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.record import Record


T = TypeVar("T", bound="ServiceInput")


@_attrs_define
class ServiceInput:
    """
    Example:
        {'data': [{'age': 57, 'job': 'technician', 'marital': 'married', 'education': 'high.school', 'default': 'no',
            'housing': 'no', 'loan': 'yes', 'contact': 'cellular', 'month': 'may', 'day_of_week': 'mon', 'duration': 371,
            'campaign': 1, 'pdays': 999, 'previous': 1, 'poutcome': 'failure', 'emp.var.rate': -1.8, 'cons.price.idx':
            92.893, 'cons.conf.idx': -46.2, 'euribor3m': 1.299, 'nr.employed': 5099.1}, {'age': 55, 'job': 'unknown',
            'marital': 'married', 'education': 'unknown', 'default': 'unknown', 'housing': 'yes', 'loan': 'no', 'contact':
            'telephone', 'month': 'may', 'day_of_week': 'thu', 'duration': 285, 'campaign': 2, 'pdays': 999, 'previous': 0,
            'poutcome': 'nonexistent', 'emp.var.rate': 1.1, 'cons.price.idx': 93.994, 'cons.conf.idx': -36.4, 'euribor3m':
            4.86, 'nr.employed': 5191.0}]}

    Attributes:
        data (list[Record] | Unset):
    """

    data: list[Record] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.data, Unset):
            data = []
            for data_item_data in self.data:
                data_item = data_item_data.to_dict()
                data.append(data_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if data is not UNSET:
            field_dict["data"] = data

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.record import Record  # noqa: PLC0415

        d = dict(src_dict)
        _data = d.pop("data", UNSET)
        data: list[Record] | Unset = UNSET
        if _data is not UNSET:
            data = []
            for data_item_data in _data:
                data_item = Record.from_dict(data_item_data)

                data.append(data_item)

        service_input = cls(
            data=data,
        )

        service_input.additional_properties = d
        return service_input

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
