from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.service_input_input_data import ServiceInputInputData
    from ..models.service_input_params import ServiceInputParams


T = TypeVar("T", bound="ServiceInput")


@_attrs_define
class ServiceInput:
    """
    Example:
        {'input_data': {'columns': ['age', 'job', 'marital', 'education', 'default', 'housing', 'loan', 'contact',
            'month', 'day_of_week', 'duration', 'campaign', 'pdays', 'previous', 'poutcome', 'emp.var.rate',
            'cons.price.idx', 'cons.conf.idx', 'euribor3m', 'nr.employed'], 'index': [], 'data': []}, 'params': {}}

    Attributes:
        input_data (ServiceInputInputData | Unset):
        params (ServiceInputParams | Unset):
    """

    input_data: ServiceInputInputData | Unset = UNSET
    params: ServiceInputParams | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        input_data: dict[str, Any] | Unset = UNSET
        if not isinstance(self.input_data, Unset):
            input_data = self.input_data.to_dict()

        params: dict[str, Any] | Unset = UNSET
        if not isinstance(self.params, Unset):
            params = self.params.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if input_data is not UNSET:
            field_dict["input_data"] = input_data
        if params is not UNSET:
            field_dict["params"] = params

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.service_input_input_data import ServiceInputInputData  # noqa: PLC0415
        from ..models.service_input_params import ServiceInputParams  # noqa: PLC0415

        d = dict(src_dict)
        _input_data = d.pop("input_data", UNSET)
        input_data: ServiceInputInputData | Unset
        if isinstance(_input_data, Unset):
            input_data = UNSET
        else:
            input_data = ServiceInputInputData.from_dict(_input_data)

        _params = d.pop("params", UNSET)
        params: ServiceInputParams | Unset
        if isinstance(_params, Unset):
            params = UNSET
        else:
            params = ServiceInputParams.from_dict(_params)

        service_input = cls(
            input_data=input_data,
            params=params,
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
