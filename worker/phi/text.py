"""The text form of keys, tokens and indexes: base64url without padding, decoded strictly.

Redis hands values back as text, so everything sealed or hashed is ASCII. base64url has no `|`,
`,`, `:`, `{` or `}`: a token fits inside the codec's packed values, and an index inside a key
name without touching its Redis Cluster hash tag.
"""

from __future__ import annotations

import base64
import binascii
import re

_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")
_TO_STANDARD = str.maketrans("-_", "+/")


def encode(data: bytes) -> str:
    """`data` as base64url without `=` padding (4 characters for every 3 bytes, rounded up)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode(text: str) -> bytes:
    """The bytes `encode` made `text` from; ValueError for any other character or a bad length."""
    if len(text) % 4 == 1 or not _ALPHABET.fullmatch(text):
        raise ValueError("not base64url")
    padded = text.translate(_TO_STANDARD) + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except binascii.Error:
        raise ValueError("not base64url") from None
