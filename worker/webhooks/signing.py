"""The `Caredrip-Signature` header on clinic webhooks: Stripe's scheme, with caredrip's name.

    Caredrip-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

The key is the secret's UTF-8 bytes, the message the decimal timestamp, a dot, and the body's
exact bytes. A header may carry several `v1=` entries (one per secret while a secret is being
replaced); it verifies if any one matches. Pure functions: the caller passes the time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER = "Caredrip-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"
_MAX_HEADER_CHARS = 4096


def new_secret() -> str:
    """A new signing secret: 'whsec_' and 256 random bits, URL-safe base64."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, body: bytes, t: int) -> str:
    """The hex HMAC-SHA256 of '<t>.<body>' keyed with the secret."""
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, t: int) -> str:
    """The header value for `body` sent at unix time `t`: 't=<t>,v1=<hex>'."""
    return f"t={t},{SCHEME}={signature(secret, body, t)}"


def parse(header: str) -> tuple[int, list[str]] | None:
    """The timestamp and every v1 signature in a header value, or None if it has no usable
    timestamp or no v1 entry. Unknown entries (another scheme) are skipped, not errors."""
    if len(header) > _MAX_HEADER_CHARS:
        return None
    t: int | None = None
    found: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t" and value.isascii() and value.isdigit():
            t = int(value)
        elif key == SCHEME:
            found.append(value)
    return (t, found) if t is not None and found else None


def verify(secret: str, body: bytes, header: str, now: float, tolerance: float = DEFAULT_TOLERANCE_SECONDS) -> bool:
    """True if `header` signs `body` with `secret` and its timestamp is within `tolerance`
    seconds of `now` (either side: a replayed old request and a clock far ahead both fail).
    Compares in constant time; a malformed header is False, never an error."""
    parsed = parse(header)
    if parsed is None:
        return False
    t, candidates = parsed
    if abs(now - t) > tolerance:
        return False
    expected = signature(secret, body, t)
    return any(hmac.compare_digest(expected.encode(), c.encode()) for c in candidates)
