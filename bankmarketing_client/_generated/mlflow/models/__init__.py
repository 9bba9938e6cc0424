"""Contains all the data models used in inputs/outputs"""

from .error_response import ErrorResponse
from .get_swagger_spec_response_200 import GetSwaggerSpecResponse200
from .get_swagger_spec_version import GetSwaggerSpecVersion
from .service_input import ServiceInput
from .service_input_input_data import ServiceInputInputData
from .service_input_input_data_columns_item import ServiceInputInputDataColumnsItem
from .service_input_params import ServiceInputParams

__all__ = (
    "ErrorResponse",
    "GetSwaggerSpecResponse200",
    "GetSwaggerSpecVersion",
    "ServiceInput",
    "ServiceInputInputData",
    "ServiceInputInputDataColumnsItem",
    "ServiceInputParams",
)
