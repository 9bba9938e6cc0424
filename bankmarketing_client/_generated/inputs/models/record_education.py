from enum import StrEnum


class RecordEducation(StrEnum):
    BASIC_4Y = "basic.4y"
    BASIC_6Y = "basic.6y"
    BASIC_9Y = "basic.9y"
    HIGH_SCHOOL = "high.school"
    ILLITERATE = "illiterate"
    PROFESSIONAL_COURSE = "professional.course"
    UNIVERSITY_DEGREE = "university.degree"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return str(self.value)
