"""Contains all the data models used in inputs/outputs"""

from .error_response import ErrorResponse
from .get_swagger_spec_response_200 import GetSwaggerSpecResponse200
from .get_swagger_spec_version import GetSwaggerSpecVersion
from .record import Record
from .record_contact import RecordContact
from .record_day_of_week import RecordDayOfWeek
from .record_default import RecordDefault
from .record_education import RecordEducation
from .record_housing import RecordHousing
from .record_job import RecordJob
from .record_loan import RecordLoan
from .record_marital import RecordMarital
from .record_month import RecordMonth
from .record_poutcome import RecordPoutcome
from .service_input import ServiceInput
from .service_input_global_parameters import ServiceInputGlobalParameters
from .service_input_global_parameters_method import ServiceInputGlobalParametersMethod
from .service_input_inputs import ServiceInputInputs
from .service_output import ServiceOutput

__all__ = (
    "ErrorResponse",
    "GetSwaggerSpecResponse200",
    "GetSwaggerSpecVersion",
    "Record",
    "RecordContact",
    "RecordDayOfWeek",
    "RecordDefault",
    "RecordEducation",
    "RecordHousing",
    "RecordJob",
    "RecordLoan",
    "RecordMarital",
    "RecordMonth",
    "RecordPoutcome",
    "ServiceInput",
    "ServiceInputGlobalParameters",
    "ServiceInputGlobalParametersMethod",
    "ServiceInputInputs",
    "ServiceOutput",
)
