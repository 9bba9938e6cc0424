from enum import StrEnum


class RecordPoutcome(StrEnum):
    FAILURE = "failure"
    NONEXISTENT = "nonexistent"
    SUCCESS = "success"

    def __str__(self) -> str:
        return str(self.value)
