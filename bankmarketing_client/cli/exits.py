"""Every exit code of ``bankmarketing-client``, and which error gets which: the one table.

=====  ===================  =====================================================================================
code   name                 when
=====  ===================  =====================================================================================
0      EXIT_OK              the command did all it was asked
1      EXIT_FAILED          it ran, but not everything succeeded: rows rejected or failed (``score``, see the
                            errors file), ``--fail-fast`` stopped at a bad row, the endpoint failed (no answer, or
                            an error its retries could not get past, an answer past its size cap; ``score``
                            saves its progress for ``--resume``), a published pipeline's run or a batch
                            endpoint's job did not complete (or was still running when ``--run-timeout`` ended
                            the wait), a local endpoint's process died
2      EXIT_USER_ERROR      a mistake to fix before running again: a bad option, file or setting (including a key
                            the endpoint refuses: 401/403, and a ``--deployment`` it does not know: a 404 to a
                            request naming one), a missing extra, an Azure management call that failed or
                            passed ``--management-timeout`` (login, network, names); one line on stderr, no
                            traceback
3      EXIT_NO_SPACE        ``score`` ran out of disk space (or quota) writing its output, spool or checkpoint;
                            what was written before is kept and the checkpoint is true: free space and run again
                            with ``--resume``
6      EXIT_SLO_MISSED      ``capacity``: the SLO (p99 and error ratio) is missed even at the lowest rate tried
130    EXIT_INTERRUPTED     Ctrl-C or SIGTERM (128 + SIGINT, as shells report it); ``score`` saves its progress
                            (``--engine spark``: removes an uncommitted output, or keeps a committed one for
                            ``--resume`` to finish, the one line says which)
=====  ===================  =====================================================================================

The load test (``locust -f loadtest``) has exit codes of its own, Locust's process's, not this CLI's (also in
``loadtest/_payloads.py`` and docs/loadtest.md):

=====  =====================================================================================================
code   when (``locust -f loadtest``)
=====  =====================================================================================================
0      the gates passed (or none was set and no request failed)
1      some request failed and no ``--slo-fail-ratio`` gate was set (Locust's own rule)
2      set-up error: a bad option, payload, key or token file, endpoint settings; one line
3      ``--slo-fail-ratio`` breached (open loop: dropped arrivals count as failures)
4      a latency gate breached: ``--slo-p95-ms``, ``--slo-p99-ms`` or ``--slo-p999-ms``
5      both 3 and 4 (in one scope, or one in the totals and one in a deployment)
6      not enough samples: no requests, or fewer measured requests than a gated percentile needs
7      the open-loop generator fell behind its own schedule: no gate passes such a run
=====  =====================================================================================================
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Final

from bankmarketing_client.errors import (
    APIError,
    AuthenticationError,
    BankMarketingError,
    ConfigurationError,
    DiskFullError,
    RunStopped,
    StillRunning,
)

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USER_ERROR: Final = 2
EXIT_NO_SPACE: Final = 3
EXIT_SLO_MISSED: Final = 6
EXIT_INTERRUPTED: Final = 130


def exit_code_for(error: BankMarketingError) -> int:
    """The exit code for an error the CLI reports as one line: the endpoint's failures are not user errors."""
    if isinstance(error, DiskFullError):
        return EXIT_NO_SPACE
    cause = error.cause if isinstance(error, RunStopped) else error
    if isinstance(cause, APIError) and not isinstance(cause, AuthenticationError):
        return EXIT_FAILED
    if isinstance(cause, StillRunning):
        return EXIT_FAILED
    return EXIT_USER_ERROR


@contextlib.contextmanager
def unknown_deployment_is_a_user_error(deployment: str | None) -> Iterator[None]:
    """Around a command whose requests name ``deployment``: a 404 then means the endpoint has no deployment of that
    name (Azure's answer), a setting to fix, so it leaves as a :class:`ConfigurationError` with the same line.
    Without a deployment a 404 stays the endpoint's failure (a wrong URI, or no deployment takes traffic)."""
    try:
        yield
    except (APIError, RunStopped) as exc:
        cause = exc.cause if isinstance(exc, RunStopped) else exc
        if deployment is None or not isinstance(cause, APIError) or cause.status != 404:
            raise
        raise ConfigurationError(str(exc)) from exc
