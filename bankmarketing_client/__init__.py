"""bankmarketing-client: talk to the Azure ML bank-marketing endpoint, or run a local one that behaves like it."""

from bankmarketing_client.errors import BankMarketingError, DatasetError

__all__ = ["BankMarketingError", "DatasetError"]
__version__ = "0.1.0"
