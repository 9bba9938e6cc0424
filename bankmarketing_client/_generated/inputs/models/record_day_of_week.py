from enum import StrEnum


class RecordDayOfWeek(StrEnum):
    FRI = "fri"
    MON = "mon"
    THU = "thu"
    TUE = "tue"
    WED = "wed"

    def __str__(self) -> str:
        return str(self.value)
