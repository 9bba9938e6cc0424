from enum import StrEnum


class RecordMonth(StrEnum):
    APR = "apr"
    AUG = "aug"
    DEC = "dec"
    JUL = "jul"
    JUN = "jun"
    MAR = "mar"
    MAY = "may"
    NOV = "nov"
    OCT = "oct"
    SEP = "sep"

    def __str__(self) -> str:
        return str(self.value)
