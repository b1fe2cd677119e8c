"""Several fields of one record packed into one byte string, so they are sealed as one token.

One token per record pays the 29 bytes of key id, nonce and tag once, not once per field. Layout,
for each field in order: key length (1 byte), key (ASCII), value length (LEB128 varint, 1 byte up
to 127), value (UTF-8). Any text is a valid value; keys are the codec's short field codes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_KEY = re.compile(r"[a-z][a-z0-9_]{0,15}")


def pack(fields: Mapping[str, str]) -> bytes:
    """`fields` as bytes; ValueError naming a key that is not 1-16 of `a-z 0-9 _` (letter first)."""
    out = bytearray()
    for key, value in fields.items():
        if not _KEY.fullmatch(key):
            raise ValueError(f"field key {key!r}: expected 1-16 of a-z 0-9 _, starting with a letter")
        data = value.encode("utf-8")
        out += bytes([len(key)]) + key.encode("ascii") + _varint(len(data)) + data
    return bytes(out)


def unpack(data: bytes) -> dict[str, str]:
    """The mapping `pack` made `data` from; ValueError if `data` is not such a packing."""
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        end = pos + 1 + data[pos]
        key = data[pos + 1 : end].decode("ascii")
        size, pos = _read_varint(data, end)
        if not _KEY.fullmatch(key) or key in fields or pos + size > len(data):
            raise ValueError("malformed packed fields")
        fields[key] = data[pos : pos + size].decode("utf-8")
        pos += size
    return fields


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it); ValueError if `data` ends inside it."""
    n = shift = 0
    while True:
        if pos >= len(data) or shift > 28:
            raise ValueError("malformed packed fields")
        byte = data[pos]
        n |= (byte & 0x7F) << shift
        pos += 1
        if byte < 0x80:
            return n, pos
        shift += 7
