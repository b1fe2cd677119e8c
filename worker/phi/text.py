"""The text form of keys, tokens and indexes: base64url without padding, decoded strictly.

Redis hands values back as text, so everything sealed or hashed is ASCII. base64url has no `|`,
`,`, `:`, `{` or `}`: a token fits inside the codec's packed values, and an index inside a key
name without touching its Redis Cluster hash tag.
"""

from __future__ import annotations

import binascii

# base64url -> standard base64 for the C decoder; "+", "/" and "=" become "!", which it refuses.
_TO_STANDARD = bytes.maketrans(b"-_+/=", b"+/!!!")
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")


def encode(data: bytes) -> str:
    """`data` as base64url without `=` padding (4 characters for every 3 bytes, rounded up)."""
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_TO_URLSAFE).decode("ascii")


def decode(text: str) -> bytes:
    """The bytes `encode` made `text` from; ValueError for any other character or a bad length."""
    if len(text) % 4 == 1 or not text.isascii():
        raise ValueError("not base64url")
    padded = text.encode("ascii").translate(_TO_STANDARD) + b"=" * (-len(text) % 4)
    try:
        return binascii.a2b_base64(padded, strict_mode=True)
    except binascii.Error:
        raise ValueError("not base64url") from None
