from enum import StrEnum


class RecordMarital(StrEnum):
    DIVORCED = "divorced"
    MARRIED = "married"
    SINGLE = "single"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return str(self.value)
