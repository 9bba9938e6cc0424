"""What a proxy may pass on from a caller, and how a server logs requests it cannot parse.

The local front (:mod:`bankmarketing_client.local.front`) and the docs proxy (:mod:`bankmarketing_client.docs`)
both forward callers' requests upstream: both apply these rules, so neither passes on a byte that could rewrite
the upstream request (CR, LF and other controls, undecodable text, a header given twice), and neither lets
aiohttp log a malformed request's raw header line (which may hold a key).
"""

from __future__ import annotations

import logging
import time
import unicodedata
from collections import Counter
from typing import Final
from urllib.parse import parse_qsl, quote, urlencode

from aiohttp.http_exceptions import HttpProcessingError
from multidict import CIMultiDictProxy

#: Most query parameters passed on; far more than Azure's surface (``?version=``) needs.
MAX_QUERY_FIELDS: Final = 100


class BadRequest(ValueError):
    """Input the front will not pass on. The message names the fault and never quotes the caller's bytes."""


def has_control_characters(text: str) -> bool:
    """CR, LF, NUL, any C0 or C1 control, DEL: never needed in a path segment or query parameter of this API."""
    return any(unicodedata.category(c) == "Cc" for c in text)


def printable_ascii(text: str) -> bool:
    """Visible ASCII, space and tab: what every HTTP/1.1 server takes in a header value, byte for byte."""
    return all(" " <= c <= "~" or c == "\t" for c in text)


def forwardable_params(raw_query: str) -> list[tuple[str, str]]:
    """The decoded parameters of a raw (percent-encoded) query string, in order, repeats kept.

    Raises :class:`BadRequest` when it is not UTF-8 once percent-decoded or holds control characters (CR, LF, NUL,
    ...): nothing a caller needs, and the very bytes that would rewrite a request line.
    """
    if not raw_query:
        return []
    try:
        pairs = parse_qsl(
            raw_query, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=MAX_QUERY_FIELDS
        )
    except UnicodeDecodeError:
        raise BadRequest("The query string is not valid UTF-8 once percent-decoded.") from None
    except ValueError:
        raise BadRequest(f"The query string has more than {MAX_QUERY_FIELDS} parameters.") from None
    if any(has_control_characters(name) or has_control_characters(value) for name, value in pairs):
        raise BadRequest("The query string holds control characters (such as CR or LF).")
    return pairs


def forwardable_query(raw_query: str) -> str:
    """The query re-encoded from its validated, decoded parameters (:func:`forwardable_params`): ASCII only."""
    return urlencode(forwardable_params(raw_query), quote_via=quote)


def forwardable_header(headers: CIMultiDictProxy[str], name: str) -> str | None:
    """The one value of header ``name`` if it may be passed on: printable ASCII (and tab), present at most once."""
    values = headers.getall(name, [])
    if len(values) > 1:
        raise BadRequest(f"More than one {name} header.")
    if not values:
        return None
    value: str = values[0]
    if not printable_ascii(value):
        raise BadRequest(f"The {name} header must be printable ASCII.")
    return value


class ParseErrorFilter(logging.Filter):
    """One line naming the fault for each request aiohttp's parser refuses, at most one line a second.

    aiohttp logs a request it cannot parse (a control byte in a header, ``Name : value``, a bad chunk size, ...)
    with a traceback whose message quotes the offending line, which may be ``Authorization: Bearer <key>``. This
    filter, on the logger given to the server, replaces such records with the exception's class and status only,
    and drops lines within ``interval`` seconds of the last one (the next line says how many), so a flood of
    malformed requests cannot grow the log. Other records (bugs: unexpected exceptions) pass unchanged.
    """

    def __init__(self, interval: float = 1.0, counter: Counter[str] | None = None) -> None:
        super().__init__()
        self.interval = interval
        self.counter = counter
        self._next_line = 0.0
        self._suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        if self.counter is not None:
            self.counter["malformed"] += 1
        now = time.monotonic()
        if now < self._next_line:
            self._suppressed += 1
            return False
        self._next_line = now + self.interval
        more = f" ({self._suppressed} more since the last such line)" if self._suppressed else ""
        self._suppressed = 0
        record.msg = "refused a malformed request: %s, HTTP %s%s"
        record.args = (type(exc).__name__, exc.code, more)
        record.exc_info = record.exc_text = record.stack_info = None
        record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return True


def server_logger(name: str, counter: Counter[str] | None = None) -> logging.Logger:
    """The logger to give an aiohttp server (``AppRunner(..., logger=...)``) instead of ``aiohttp.server``:
    its parse errors go through a :class:`ParseErrorFilter` (counted in ``counter``, if given)."""
    logger = logging.getLogger(name)
    for old in [f for f in logger.filters if isinstance(f, ParseErrorFilter)]:
        logger.removeFilter(old)
    logger.addFilter(ParseErrorFilter(counter=counter))
    return logger
