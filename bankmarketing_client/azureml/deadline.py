"""Run a blocking Azure management call under a deadline of our own.

azureml-core passes no timeout to most of its HTTP calls and retries with back-off, and azure-ai-ml's pollers
wait as long as the service says, so a silent network (a firewall that drops packets, a proxy that accepts and
never answers) can stall either for many minutes.
The call runs in a daemon worker thread; when the deadline passes we stop waiting and raise
:class:`~bankmarketing_client.errors.AzureManagementError`. The abandoned thread cannot be killed, but being
a daemon it never keeps the process alive.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from bankmarketing_client.errors import AzureManagementError, BankMarketingError, excerpt

T = TypeVar("T")

#: Default deadline for one management call, in seconds.
DEFAULT_MANAGEMENT_TIMEOUT = 60.0

_MESSAGE_CHARS = 400


def describe_failure(exc: BaseException) -> str:
    """One short line for an azureml-core or requests exception (their messages span many lines)."""
    # azureml-core exceptions render as a multi-line report; their ``message`` is the useful part.
    message = getattr(exc, "message", None)
    text = message if isinstance(message, str) and message else (str(exc) or type(exc).__name__)
    return excerpt(text, _MESSAGE_CHARS)


def call_with_deadline(func: Callable[[], T], *, seconds: float, what: str) -> T:
    """Return ``func()``, or raise :class:`AzureManagementError` if it fails or takes longer than ``seconds``.

    ``what`` names the operation for the error message ("get service 'bank'").
    """
    if seconds <= 0:
        raise ValueError("the deadline must be positive")
    outcome: dict[str, object] = {}
    done = threading.Event()

    def worker() -> None:
        try:
            outcome["value"] = func()
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=worker, name=f"azure-management: {what}", daemon=True)
    thread.start()
    if not done.wait(seconds):
        raise AzureManagementError(
            f"{what}: no answer from Azure within {seconds:g} s (the Azure SDK sets no overall timeout of its own; "
            "check the network, proxy or VPN, or allow more time with --management-timeout)"
        )
    if "error" in outcome:
        error = outcome["error"]
        assert isinstance(error, BaseException)
        if isinstance(error, BankMarketingError):
            raise error
        raise AzureManagementError(f"{what} failed: {describe_failure(error)}") from error
    return outcome["value"]  # type: ignore[return-value]
