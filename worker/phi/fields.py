"""Several fields of one record packed into one byte string, so they are sealed as one token.

One token per record pays the 29 bytes of key id, nonce and tag once, not once per field. Layout,
for each field in order: key length (1 byte), key (ASCII), a header (LEB128 varint), the value.
Header `size << 1`: the value is `size` bytes of UTF-8. Header `1`: the value is an E.164 number
(`+` and up to 15 digits, the first not 0) written as the varint of its digits, 5 bytes for a
North American number instead of 12. Any text is a valid value; keys are short field codes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_KEY = re.compile(r"[a-z][a-z0-9_]{0,15}")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_NUMBER = 1


def pack(fields: Mapping[str, str]) -> bytes:
    """`fields` as bytes; ValueError naming a key that is not 1-16 of `a-z 0-9 _` (letter first)."""
    out = bytearray()
    for key, value in fields.items():
        if not _KEY.fullmatch(key):
            raise ValueError(f"field key {key!r}: expected 1-16 of a-z 0-9 _, starting with a letter")
        out += bytes([len(key)]) + key.encode("ascii")
        if _E164.fullmatch(value):
            out += _varint(_NUMBER) + _varint(int(value[1:]))
        else:
            data = value.encode("utf-8")
            out += _varint(len(data) << 1) + data
    return bytes(out)


def unpack(data: bytes) -> dict[str, str]:
    """The mapping `pack` made `data` from; ValueError if `data` is not such a packing."""
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        key, pos = _read_key(data, pos)
        value, pos = _read_value(data, pos)
        if key in fields:
            raise ValueError("malformed packed fields")
        fields[key] = value
    return fields


def _read_key(data: bytes, pos: int) -> tuple[str, int]:
    end = pos + 1 + data[pos]
    key = data[pos + 1 : end].decode("ascii")
    if end > len(data) or not _KEY.fullmatch(key):
        raise ValueError("malformed packed fields")
    return key, end


def _read_value(data: bytes, pos: int) -> tuple[str, int]:
    header, pos = _read_varint(data, pos)
    if header == _NUMBER:
        number, pos = _read_varint(data, pos)
        if not _E164.fullmatch(value := f"+{number}"):
            raise ValueError("malformed packed fields")
        return value, pos
    end = pos + (header >> 1)
    if header & 1 or end > len(data):
        raise ValueError("malformed packed fields")
    return data[pos:end].decode("utf-8"), end


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it); ValueError if `data` ends inside it or it passes 63 bits."""
    n = shift = 0
    while True:
        if pos >= len(data) or shift > 56:
            raise ValueError("malformed packed fields")
        byte = data[pos]
        n |= (byte & 0x7F) << shift
        pos += 1
        if byte < 0x80:
            return n, pos
        shift += 7
