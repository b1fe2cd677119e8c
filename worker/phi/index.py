"""Blind indexes: find a patient by phone number or email through a keyed hash, never the value.

`IndexKey.blind_index(value)` is HMAC-SHA256 of the normalised value, truncated to 16 bytes and
written as 22 base64url characters. The key is derived (HKDF-SHA256) from CAREDRIP_SECRET_KEY, the
installation's secret that already must never change (enrollment ids derive from it), and not from
CAREDRIP_DATA_KEYS: an index key cannot rotate without rebuilding every index from the plain values,
and an erased patient's opt-out is kept only as its index, so it could never be rebuilt.

16 bytes: two different numbers share an index with odds about n**2 / 2**129, below 1e-20 for a
billion numbers; a shared index would route one patient's STOP or reply to another's record.
Anyone holding the key can test guesses (phone numbers are few), so the key is as secret as PHI.
"""

from __future__ import annotations

import hmac
import re

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from worker.phi import text

INDEX_BYTES = 16
MIN_SECRET_BYTES = 16
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_INFO = b"caredrip blind index v1"


class IndexKey:
    """The one key of every blind index; its repr never shows it."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("an index key is 32 bytes")
        self._key = key

    @classmethod
    def from_secret(cls, secret: bytes) -> IndexKey:
        """The index key derived from the installation secret (CAREDRIP_SECRET_KEY, at least 16 bytes)."""
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"CAREDRIP_SECRET_KEY: at least {MIN_SECRET_BYTES} bytes to derive the index key")
        return cls(HKDF(algorithm=SHA256(), length=32, salt=None, info=_INFO).derive(secret))

    def blind_index(self, value: str) -> str:
        """22 characters standing for an E.164 number (as given) or an email address (lowercased)."""
        digest = hmac.digest(self._key, normalise(value), "sha256")
        return text.encode(digest[:INDEX_BYTES])

    def __repr__(self) -> str:
        return "IndexKey(…)"


def normalise(value: str) -> bytes:
    """The bytes hashed for `value`, kind-prefixed; ValueError (without the value) if neither kind."""
    value = value.strip()
    if _E164.fullmatch(value):
        return b"phone:" + value.encode("ascii")
    if "@" in value and " " not in value:
        return b"email:" + value.lower().encode("utf-8")
    raise ValueError("not an E.164 number (+ and digits) nor an email address")
