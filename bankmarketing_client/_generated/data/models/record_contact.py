from enum import StrEnum


class RecordContact(StrEnum):
    CELLULAR = "cellular"
    TELEPHONE = "telephone"

    def __str__(self) -> str:
        return str(self.value)
