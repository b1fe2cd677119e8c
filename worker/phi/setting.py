"""The CAREDRIP_DATA_KEYS format: comma-separated keys, newest first, parsed strictly, never echoed.

Each key is urlsafe base64 of 32 random bytes (43 characters; a Fernet key has this shape), e.g.
`python -c "import secrets, base64; print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())"`,
optionally prefixed by a key id 0-255 (`7:q3J…`); a key without one gets the first byte of its own
SHA-256. Errors name the setting and the key's 1-based position, never the key's text.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from worker.phi import text

SETTING = "CAREDRIP_DATA_KEYS"
KEY_BYTES = 32
# A random 32-byte key has about 30 distinct byte values; fewer than 16 happens by chance with
# odds below 1e-15, and catches typed keys such as "0000…" or a word. A key that repeats itself
# (period up to 16 bytes, e.g. one 16-byte key written twice) is refused too; odds nil by chance.
MIN_DISTINCT_BYTES = 16
_KID = re.compile(r"[0-9]{1,3}")


@dataclass(frozen=True, repr=False)
class DataKey:
    """One key of the ring; its repr shows the id only, so no log or traceback prints the key."""

    kid: int
    secret: bytes

    def __repr__(self) -> str:
        return f"DataKey(kid={self.kid})"


def new_key(kid: int | None = None) -> DataKey:
    """A fresh key from the operating system's CSPRNG (id derived from it unless given)."""
    secret = secrets.token_bytes(KEY_BYTES)
    return DataKey(_derived_kid(secret) if kid is None else kid, secret)


def parse(raw: str) -> list[DataKey]:
    """The keys of a CAREDRIP_DATA_KEYS value; ValueError for an empty, malformed, weak or repeated key or id."""
    keys: list[DataKey] = []
    for pos, entry in enumerate((entry.strip() for entry in raw.split(",")), 1):
        key = _parse_entry(entry, f"{SETTING}: key {pos}")
        for seen, earlier in enumerate(keys, 1):
            if earlier.secret == key.secret:
                raise ValueError(f"{SETTING}: key {pos} repeats key {seen}")
            if earlier.kid == key.kid:
                raise ValueError(f"{SETTING}: key {pos} has the id {key.kid} of key {seen}: give ids (`N:key`)")
        keys.append(key)
    return keys


def format_keys(keys: tuple[DataKey, ...]) -> str:
    """The CAREDRIP_DATA_KEYS value for `keys`, every key with its id."""
    return ",".join(f"{k.kid}:{text.encode(k.secret)}" for k in keys)


def _parse_entry(entry: str, where: str) -> DataKey:
    if not entry:
        raise ValueError(f"{where} is empty")
    kid_text, sep, key_text = entry.rpartition(":")
    if sep and not (_KID.fullmatch(kid_text) and int(kid_text) <= 255):
        raise ValueError(f"{where}: the key id before `:` must be a number 0-255")
    try:
        secret = text.decode(key_text.removesuffix("="))
    except ValueError:
        secret = b""
    if len(secret) != KEY_BYTES:
        raise ValueError(f"{where} is not urlsafe base64 of {KEY_BYTES} bytes (43 characters, A-Z a-z 0-9 - _)")
    if len(set(secret)) < MIN_DISTINCT_BYTES or any(secret == secret[p:] + secret[:p] for p in range(1, 17)):
        raise ValueError(f"{where} is too weak to be random: use {KEY_BYTES} bytes from a CSPRNG")
    return DataKey(int(kid_text) if sep else _derived_kid(secret), secret)


def _derived_kid(secret: bytes) -> int:
    return hashlib.sha256(b"caredrip key id\x00" + secret).digest()[0]
