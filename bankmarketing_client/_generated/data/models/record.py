from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.record_contact import RecordContact
from ..models.record_day_of_week import RecordDayOfWeek
from ..models.record_default import RecordDefault
from ..models.record_education import RecordEducation
from ..models.record_housing import RecordHousing
from ..models.record_job import RecordJob
from ..models.record_loan import RecordLoan
from ..models.record_marital import RecordMarital
from ..models.record_month import RecordMonth
from ..models.record_poutcome import RecordPoutcome

T = TypeVar("T", bound="Record")


@_attrs_define
class Record:
    """
    Attributes:
        age (int): Training data range 17 to 98.
        job (RecordJob): One of the 12 categories seen in the training data.
        marital (RecordMarital): One of the 4 categories seen in the training data.
        education (RecordEducation): One of the 8 categories seen in the training data.
        default (RecordDefault): One of the 3 categories seen in the training data.
        housing (RecordHousing): One of the 3 categories seen in the training data.
        loan (RecordLoan): One of the 3 categories seen in the training data.
        contact (RecordContact): One of the 2 categories seen in the training data.
        month (RecordMonth): One of the 10 categories seen in the training data.
        day_of_week (RecordDayOfWeek): One of the 5 categories seen in the training data.
        duration (int): Training data range 0 to 4918.
        campaign (int): Training data range 1 to 56.
        pdays (int): Training data range 0 to 27, plus the sentinel: 999 means the client was never contacted in a
            previous campaign.
        previous (int): Training data range 0 to 7.
        poutcome (RecordPoutcome): One of the 3 categories seen in the training data.
        emp_var_rate (float): Training data range -3.4 to 1.4.
        cons_price_idx (float): Training data range 92.201 to 94.767.
        cons_conf_idx (float): Training data range -50.8 to -26.9.
        euribor3m (float): Training data range 0.634 to 5.045.
        nr_employed (float): Training data range 4963.6 to 5228.1.
    """

    age: int
    job: RecordJob
    marital: RecordMarital
    education: RecordEducation
    default: RecordDefault
    housing: RecordHousing
    loan: RecordLoan
    contact: RecordContact
    month: RecordMonth
    day_of_week: RecordDayOfWeek
    duration: int
    campaign: int
    pdays: int
    previous: int
    poutcome: RecordPoutcome
    emp_var_rate: float
    cons_price_idx: float
    cons_conf_idx: float
    euribor3m: float
    nr_employed: float
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        age = self.age

        job = self.job.value

        marital = self.marital.value

        education = self.education.value

        default = self.default.value

        housing = self.housing.value

        loan = self.loan.value

        contact = self.contact.value

        month = self.month.value

        day_of_week = self.day_of_week.value

        duration = self.duration

        campaign = self.campaign

        pdays = self.pdays

        previous = self.previous

        poutcome = self.poutcome.value

        emp_var_rate = self.emp_var_rate

        cons_price_idx = self.cons_price_idx

        cons_conf_idx = self.cons_conf_idx

        euribor3m = self.euribor3m

        nr_employed = self.nr_employed

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "age": age,
                "job": job,
                "marital": marital,
                "education": education,
                "default": default,
                "housing": housing,
                "loan": loan,
                "contact": contact,
                "month": month,
                "day_of_week": day_of_week,
                "duration": duration,
                "campaign": campaign,
                "pdays": pdays,
                "previous": previous,
                "poutcome": poutcome,
                "emp.var.rate": emp_var_rate,
                "cons.price.idx": cons_price_idx,
                "cons.conf.idx": cons_conf_idx,
                "euribor3m": euribor3m,
                "nr.employed": nr_employed,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        age = d.pop("age")

        job = RecordJob(d.pop("job"))

        marital = RecordMarital(d.pop("marital"))

        education = RecordEducation(d.pop("education"))

        default = RecordDefault(d.pop("default"))

        housing = RecordHousing(d.pop("housing"))

        loan = RecordLoan(d.pop("loan"))

        contact = RecordContact(d.pop("contact"))

        month = RecordMonth(d.pop("month"))

        day_of_week = RecordDayOfWeek(d.pop("day_of_week"))

        duration = d.pop("duration")

        campaign = d.pop("campaign")

        pdays = d.pop("pdays")

        previous = d.pop("previous")

        poutcome = RecordPoutcome(d.pop("poutcome"))

        emp_var_rate = d.pop("emp.var.rate")

        cons_price_idx = d.pop("cons.price.idx")

        cons_conf_idx = d.pop("cons.conf.idx")

        euribor3m = d.pop("euribor3m")

        nr_employed = d.pop("nr.employed")

        record = cls(
            age=age,
            job=job,
            marital=marital,
            education=education,
            default=default,
            housing=housing,
            loan=loan,
            contact=contact,
            month=month,
            day_of_week=day_of_week,
            duration=duration,
            campaign=campaign,
            pdays=pdays,
            previous=previous,
            poutcome=poutcome,
            emp_var_rate=emp_var_rate,
            cons_price_idx=cons_price_idx,
            cons_conf_idx=cons_conf_idx,
            euribor3m=euribor3m,
            nr_employed=nr_employed,
        )

        record.additional_properties = d
        return record

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
