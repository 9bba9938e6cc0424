from enum import StrEnum


class ServiceInputInputDataColumnsItem(StrEnum):
    AGE = "age"
    CAMPAIGN = "campaign"
    CONS_CONF_IDX = "cons.conf.idx"
    CONS_PRICE_IDX = "cons.price.idx"
    CONTACT = "contact"
    DAY_OF_WEEK = "day_of_week"
    DEFAULT = "default"
    DURATION = "duration"
    EDUCATION = "education"
    EMP_VAR_RATE = "emp.var.rate"
    EURIBOR3M = "euribor3m"
    HOUSING = "housing"
    JOB = "job"
    LOAN = "loan"
    MARITAL = "marital"
    MONTH = "month"
    NR_EMPLOYED = "nr.employed"
    PDAYS = "pdays"
    POUTCOME = "poutcome"
    PREVIOUS = "previous"

    def __str__(self) -> str:
        return str(self.value)
