"""Several fields of one record packed into one byte string, so they are sealed as one token.

One token per record pays the 29 bytes of key id, nonce and tag once, not once per field. Layout,
for each field in order: key length (1 byte), key (ASCII), header (LEB128 varint), value.
Header `size << 1`: the value is `size` bytes of UTF-8. Header `size << 1 | 1`: the value is an
E.164 number (`+` and 2-15 digits, the first not 0), its digits as a `size`-byte big-endian
integer: 5 bytes for a North American number instead of 12. Keys are short field codes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

_KEY = re.compile(r"[a-z][a-z0-9_]{0,15}")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_E164_RANGE = range(10, 10**15)  # the digits of `\+[1-9][0-9]{1,14}` as an integer
_SMALL = [bytes([n]) for n in range(0x80)]


def pack(fields: Mapping[str, str]) -> bytes:
    """`fields` as bytes; ValueError naming a key that is not 1-16 of `a-z 0-9 _` (letter first)."""
    out = bytearray()
    for key, value in fields.items():
        out += _key_prefix(key)
        if _E164.fullmatch(value):
            number = int(value[1:])
            size = (number.bit_length() + 7) // 8
            out += _varint(size << 1 | 1) + number.to_bytes(size, "big")
        else:
            data = value.encode("utf-8")
            out += _varint(len(data) << 1) + data
    return bytes(out)


def unpack(data: bytes) -> dict[str, str]:
    """The mapping `pack` made `data` from; ValueError if `data` is not such a packing."""
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        end = pos + 1 + data[pos]
        key = data[pos + 1 : end].decode("ascii")
        header, pos = _read_varint(data, end)
        start, pos = pos, pos + (header >> 1)
        if pos > len(data) or key in fields or not _is_key(key):
            raise ValueError("malformed packed fields")
        if header & 1:
            number = int.from_bytes(data[start:pos], "big")
            if number not in _E164_RANGE:
                raise ValueError("malformed packed fields")
            fields[key] = f"+{number}"
        else:
            fields[key] = data[start:pos].decode("utf-8")
    return fields


@functools.lru_cache(maxsize=256)
def _key_prefix(key: str) -> bytes:
    if not _KEY.fullmatch(key):
        raise ValueError(f"field key {key!r}: expected 1-16 of a-z 0-9 _, starting with a letter")
    return bytes([len(key)]) + key.encode("ascii")


@functools.lru_cache(maxsize=256)
def _is_key(key: str) -> bool:
    return bool(_KEY.fullmatch(key))


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _SMALL[n]
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it); ValueError if `data` ends inside it or it passes 63 bits."""
    if pos < len(data) and data[pos] < 0x80:
        return data[pos], pos + 1
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
