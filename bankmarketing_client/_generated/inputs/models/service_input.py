from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.service_input_global_parameters import ServiceInputGlobalParameters
    from ..models.service_input_inputs import ServiceInputInputs


T = TypeVar("T", bound="ServiceInput")


@_attrs_define
class ServiceInput:
    """
    Example:
        {'Inputs': {'data': [{'age': 57, 'job': 'technician', 'marital': 'married', 'education': 'high.school',
            'default': 'no', 'housing': 'no', 'loan': 'yes', 'contact': 'cellular', 'month': 'may', 'day_of_week': 'mon',
            'duration': 371, 'campaign': 1, 'pdays': 999, 'previous': 1, 'poutcome': 'failure', 'emp.var.rate': -1.8,
            'cons.price.idx': 92.893, 'cons.conf.idx': -46.2, 'euribor3m': 1.299, 'nr.employed': 5099.1}, {'age': 55, 'job':
            'unknown', 'marital': 'married', 'education': 'unknown', 'default': 'unknown', 'housing': 'yes', 'loan': 'no',
            'contact': 'telephone', 'month': 'may', 'day_of_week': 'thu', 'duration': 285, 'campaign': 2, 'pdays': 999,
            'previous': 0, 'poutcome': 'nonexistent', 'emp.var.rate': 1.1, 'cons.price.idx': 93.994, 'cons.conf.idx': -36.4,
            'euribor3m': 4.86, 'nr.employed': 5191.0}]}, 'GlobalParameters': {'method': 'predict'}}

    Attributes:
        inputs (ServiceInputInputs | Unset):
        global_parameters (ServiceInputGlobalParameters | Unset):
    """

    inputs: ServiceInputInputs | Unset = UNSET
    global_parameters: ServiceInputGlobalParameters | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        inputs: dict[str, Any] | Unset = UNSET
        if not isinstance(self.inputs, Unset):
            inputs = self.inputs.to_dict()

        global_parameters: dict[str, Any] | Unset = UNSET
        if not isinstance(self.global_parameters, Unset):
            global_parameters = self.global_parameters.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if inputs is not UNSET:
            field_dict["Inputs"] = inputs
        if global_parameters is not UNSET:
            field_dict["GlobalParameters"] = global_parameters

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.service_input_global_parameters import (
            ServiceInputGlobalParameters,  # noqa: PLC0415
        )
        from ..models.service_input_inputs import ServiceInputInputs  # noqa: PLC0415

        d = dict(src_dict)
        _inputs = d.pop("Inputs", UNSET)
        inputs: ServiceInputInputs | Unset
        if isinstance(_inputs, Unset):
            inputs = UNSET
        else:
            inputs = ServiceInputInputs.from_dict(_inputs)

        _global_parameters = d.pop("GlobalParameters", UNSET)
        global_parameters: ServiceInputGlobalParameters | Unset
        if isinstance(_global_parameters, Unset):
            global_parameters = UNSET
        else:
            global_parameters = ServiceInputGlobalParameters.from_dict(_global_parameters)

        service_input = cls(
            inputs=inputs,
            global_parameters=global_parameters,
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
