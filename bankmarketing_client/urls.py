"""Where an endpoint's pieces live, derived once from the URI a user gives.

The client, the docs proxy and the load test all accept a scoring URI (``.../score``), and some also a bare
host or a swagger URI; each used to derive the endpoint's base in its own way, and one of them sent the
key to the wrong host for a URI with no path. This is the only derivation: the scoring URI is the path
given (``/score`` when there is none), and the base, where ``swagger.json`` and the liveness route live,
is that path's folder.

Error messages never quote the URI: a key pasted into the wrong argument would end up in a log. Where a URL
must be shown (a log line, a message, a repr), :func:`redact_url` shows it without its userinfo
(``user:key@``), which is where a key pasted into a URI ends up.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from bankmarketing_client.errors import REDACTED, ConfigurationError

_SCHEME = re.compile(r"[a-z][a-z0-9+.-]{0,15}")


@dataclass(frozen=True, slots=True)
class EndpointURLs:
    """An endpoint's origin (``scheme://host:port``), its scoring path and its base path (ending in ``/``)."""

    origin: str
    scoring_path: str
    base_path: str

    @property
    def scoring_url(self) -> str:
        return self.origin + self.scoring_path

    @property
    def base_url(self) -> str:
        """The folder holding ``score``, ``swagger.json`` and the liveness route, with a trailing ``/``."""
        return self.origin + self.base_path

    def url(self, name: str) -> str:
        """A route beside the scoring route (``swagger.json``, ``""`` for liveness)."""
        return self.base_url + name.lstrip("/")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only: ``localhost``, 127.0.0.0/8 or ``::1`` (also IPv4-mapped,
    ``::ffff:127.0.0.1``, and in URL brackets). Nothing is resolved: a name other than ``localhost`` is not loopback,
    whatever DNS would say of it."""
    name = host.strip().strip("[]").lower()
    if name in ("localhost", "localhost."):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def redact_url(url: str) -> str:
    """``url`` for display: any userinfo (``user:key@``) replaced by ``********@``, the rest as given.

    The one helper for every URL that reaches a log line, an exception message or a repr. Text that does not
    parse as a URL with a host, yet holds an ``@``, is not shown at all: where its userinfo ends cannot be told.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparsable URL)"
    if "@" not in parts.netloc:
        return "(unparsable URL)" if not parts.netloc and "@" in url else url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{REDACTED}@{host}"))


def describe_url(parts_scheme: str, has_host: bool) -> str:
    """What the refused value looked like, without any of its text but a plausible scheme name."""
    if has_host and _SCHEME.fullmatch(parts_scheme):
        return f"a {parts_scheme!r} URL"
    return "something that is not a URL"


def endpoint_urls(uri: str, *, what: str = "the endpoint URI") -> EndpointURLs:
    """Split ``uri`` (scoring URI, swagger URI or bare ``http(s)://host[:port]``); query and fragment dropped.

    ``http://10.0.0.1:8890`` -> scoring ``http://10.0.0.1:8890/score``, base ``http://10.0.0.1:8890/``;
    ``https://h/api/v1/service/bank/score/`` -> base ``https://h/api/v1/service/bank/``.
    """
    text = uri.strip() if isinstance(uri, str) else ""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise ConfigurationError(f"{what} is not a valid http(s) URL (malformed host or port)") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        seen = describe_url(scheme, bool(parts.netloc))
        raise ConfigurationError(f"{what} must be an http(s) URL with a host; got {seen}")
    if any(c.isspace() for c in text):
        raise ConfigurationError(f"{what} is not a valid http(s) URL (it contains spaces)")
    path = parts.path.rstrip("/")
    scoring_path = path or "/score"
    base_path = scoring_path.rsplit("/", 1)[0] + "/"
    return EndpointURLs(f"{scheme}://{parts.netloc}", scoring_path, base_path)
