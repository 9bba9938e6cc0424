"""bankmarketing-client: talk to the Azure ML bank-marketing endpoint, or run a local one that behaves like it.

The public surface is re-exported here. Names are resolved lazily (PEP 562), so ``import
bankmarketing_client`` costs almost nothing and pulls in neither httpx nor pydantic until a client or record
is actually used. To add a name, add one line to ``_EXPORTS`` (name -> module) and, for type checkers, to the
``TYPE_CHECKING`` block.

The package logs through :mod:`logging` only (loggers under ``bankmarketing_client``) and never prints. Its
top logger has a ``NullHandler``, as libraries do: when the application configured no logging, records go
nowhere instead of reaching stderr through ``logging.lastResort`` (a retry storm used to print a warning per
retry). The CLI configures logging for its own output (``-v``).
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _distribution_version
from typing import TYPE_CHECKING

from bankmarketing_client._lazy import lazy_exports
from bankmarketing_client.errors import (
    APIError,
    AuthenticationError,
    BankMarketingError,
    ConfigurationError,
    DatasetError,
    DiskFullError,
    ModelError,
    PayloadTooLargeError,
    RateLimitedError,
    RecordValidationError,
    RequestTimeoutError,
    RowError,
    RunStopped,
    ServiceUnavailableError,
    UnexpectedResponseError,
)

if TYPE_CHECKING:
    from bankmarketing_client.auth import AccessToken, Secret
    from bankmarketing_client.batch import (
        BatchSummary,
        ScoredRow,
        score_file,
        score_file_async,
        score_frame,
        score_frame_async,
        score_stream,
    )
    from bankmarketing_client.client import (
        AsyncScoringClient,
        RawResponse,
        ScoreResult,
        ScoringClient,
        Timeouts,
    )
    from bankmarketing_client.contract import Contract, Prediction
    from bankmarketing_client.features import BankMarketingRecord, validate_records
    from bankmarketing_client.retry import RetryPolicy

try:  # pyproject.toml holds the version; the installed metadata carries it here (one place to bump)
    __version__: str = _distribution_version("bankmarketing-client")
except PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0+unknown"

logging.getLogger(__name__).addHandler(logging.NullHandler())

#: Public name -> the module that defines it (imported on first access).
_EXPORTS: dict[str, str] = {
    "AsyncScoringClient": "bankmarketing_client.client",
    "ScoringClient": "bankmarketing_client.client",
    "ScoreResult": "bankmarketing_client.client",
    "RawResponse": "bankmarketing_client.client",
    "Timeouts": "bankmarketing_client.client",
    "RetryPolicy": "bankmarketing_client.retry",
    "Contract": "bankmarketing_client.contract",
    "Prediction": "bankmarketing_client.contract",
    "AccessToken": "bankmarketing_client.auth",
    "Secret": "bankmarketing_client.auth",
    "BankMarketingRecord": "bankmarketing_client.features",
    "validate_records": "bankmarketing_client.features",
    # Batch scoring (needs the 'batch' extra: pyarrow; score_frame also pandas), imported on first use.
    "score_file": "bankmarketing_client.batch",
    "score_file_async": "bankmarketing_client.batch",
    "score_frame": "bankmarketing_client.batch",
    "score_frame_async": "bankmarketing_client.batch",
    "score_stream": "bankmarketing_client.batch",
    "BatchSummary": "bankmarketing_client.batch",
    "ScoredRow": "bankmarketing_client.batch",
}

__all__ = [
    "APIError",
    "AccessToken",
    "AsyncScoringClient",
    "AuthenticationError",
    "BankMarketingError",
    "BankMarketingRecord",
    "BatchSummary",
    "ConfigurationError",
    "Contract",
    "DatasetError",
    "DiskFullError",
    "ModelError",
    "PayloadTooLargeError",
    "Prediction",
    "RateLimitedError",
    "RawResponse",
    "RecordValidationError",
    "RequestTimeoutError",
    "RetryPolicy",
    "RowError",
    "RunStopped",
    "ScoreResult",
    "ScoredRow",
    "ScoringClient",
    "Secret",
    "ServiceUnavailableError",
    "Timeouts",
    "UnexpectedResponseError",
    "score_file",
    "score_file_async",
    "score_frame",
    "score_frame_async",
    "score_stream",
    "validate_records",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
