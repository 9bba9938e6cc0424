from enum import StrEnum


class RecordJob(StrEnum):
    ADMIN = "admin."
    BLUE_COLLAR = "blue-collar"
    ENTREPRENEUR = "entrepreneur"
    HOUSEMAID = "housemaid"
    MANAGEMENT = "management"
    RETIRED = "retired"
    SELF_EMPLOYED = "self-employed"
    SERVICES = "services"
    STUDENT = "student"
    TECHNICIAN = "technician"
    UNEMPLOYED = "unemployed"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return str(self.value)
