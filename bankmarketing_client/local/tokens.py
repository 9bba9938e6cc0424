"""``aml_token`` auth, locally: tokens that expire, issued and checked with one per-run secret.

Azure's ``get_keys`` on an ``aml_token`` endpoint returns ``accessToken``, ``tokenType``, ``expiryTimeUtc`` and
``refreshAfterTimeUtc`` (the times in seconds since the epoch, UTC): :meth:`TokenIssuer.issue` returns the same
shape. A token is ``<payload>.<signature>``, both base64url: the payload holds the expiry and a random id, the
signature is HMAC-SHA256 of the payload under the run's secret, compared in constant time. A token signed by another
run (foreign), altered (tampered) or past its expiry is refused. No aiohttp here: ``LocalEndpoint`` issues tokens
in the caller's process, the front checks them in its own, and both hold the same secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

TOKEN_TYPE: Final = "Bearer"  # noqa: S105 - the scheme's name, not a secret
#: Azure's tokens last about an hour; the refresh-after time comes well before the expiry.
DEFAULT_LIFETIME_S: Final = 3600
DEFAULT_REFRESH_FRACTION: Final = 0.5


def new_secret() -> str:
    """A per-run signing secret (256 bits)."""
    return secrets.token_hex(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class TokenIssuer:
    """Issues and checks tokens; ``clock`` is injectable only so that the refusal of old tokens is unit-testable."""

    secret: str = field(repr=False)
    lifetime_s: float = DEFAULT_LIFETIME_S
    refresh_after_s: float | None = None  # None: half the lifetime
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if not self.secret:
            raise ValueError("aml_token auth needs a signing secret")
        if self.lifetime_s <= 0:
            raise ValueError(f"token lifetime must be positive, got {self.lifetime_s:g} s")
        if self.refresh_after_s is not None and not 0 <= self.refresh_after_s <= self.lifetime_s:
            raise ValueError(
                f"token refresh-after ({self.refresh_after_s:g} s) must be within its lifetime ({self.lifetime_s:g} s)"
            )

    def issue(self, lifetime_s: float | None = None) -> dict[str, Any]:
        """A new token, shaped as Azure's ``get_keys`` returns one (the camelCase REST names).

        ``lifetime_s`` overrides the issuer's for this one token (tests watch a short-lived one expire while the
        others stay valid); its refresh-after time is then half of it.
        """
        now = self.clock()
        if lifetime_s is None:
            lifetime_s = self.lifetime_s
            refresh_after = self.refresh_after_s
        else:
            if lifetime_s <= 0:
                raise ValueError(f"token lifetime must be positive, got {lifetime_s:g} s")
            refresh_after = None
        expiry = now + lifetime_s
        refresh = now + (refresh_after if refresh_after is not None else lifetime_s * DEFAULT_REFRESH_FRACTION)
        payload = _b64(json.dumps({"exp": expiry, "jti": secrets.token_hex(8)}, separators=(",", ":")).encode())
        return {
            "accessToken": f"{payload}.{self._sign(payload)}",
            "tokenType": TOKEN_TYPE,
            "expiryTimeUtc": int(expiry),
            "refreshAfterTimeUtc": int(refresh),
        }

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.secret.encode(), payload.encode("ascii"), hashlib.sha256).digest())

    def check(self, token: str) -> bool:
        """True for a token this secret signed that has not expired. The signature is compared in constant time
        before the payload is read, so a forged payload is never parsed."""
        payload, sep, signature = token.partition(".")
        if not sep or not payload.isascii() or not signature.isascii():
            return False
        if not hmac.compare_digest(signature.encode("ascii"), self._sign(payload).encode("ascii")):
            return False
        try:
            expiry = float(json.loads(_unb64(payload))["exp"])
        except (ValueError, KeyError, TypeError):
            return False
        return self.clock() < expiry
