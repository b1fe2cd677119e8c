"""An ended enrollment's message records packed into a few hash fields (compaction).

While an enrollment runs, its records hash `cd:{e:<id>}:m` holds one field per message
(`<step>.<channel>.<occurrence>` -> `code|at|lateness|provider id|reason|attempts`: ~141 B each
in Redis). Once it has ended (completed or canceled) nobody writes most of them again, so the
store replaces them with one packed value: a JSON object field -> record, deflated (raw, level 9)
and written in base 85 behind a `:1` (format 1), cut into chunk fields `*0`, `*1`, ... of at most
CHUNK characters each, so the hash stays in Redis's compact listpack encoding under
`hash-max-listpack-value 256`. The key, its expiry and its hash tag stay the same.

A write after that (a late status callback, a resend of a completed enrollment, a send that was
in flight when the enrollment was canceled) is a plain field again beside the chunks, and wins
over the packed copy of the same field: readers merge the two (`merge`), and the next
compaction folds it in. Lua scripts never open the chunks: callback.lua gets the packed record
from the caller, with the packed value's digest so that it acts only on what it was read from.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Mapping

CHUNK_PREFIX = "*"  # chunk fields: `*0`, `*1`, ...; a record field starts with its step id
CHUNK = 240  # characters per chunk field: under the 256 B listpack value limit
FORMAT = ":1"  # the packed value's first characters (no record's state code is ':')


def is_chunk(field: str) -> bool:
    return field.startswith(CHUNK_PREFIX)


def chunk_field(i: int) -> str:
    return f"{CHUNK_PREFIX}{i}"


def pack(records: Mapping[str, str]) -> dict[str, str]:
    """The chunk fields holding `records` (field -> packed record), in field order."""
    text = json.dumps(dict(sorted(records.items())), separators=(",", ":"), ensure_ascii=False)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = packer.compress(text.encode()) + packer.flush()
    value = FORMAT + base64.b85encode(body).decode("ascii")
    return {chunk_field(i // CHUNK): value[i : i + CHUNK] for i in range(0, len(value), CHUNK)}


def joined(h: Mapping[str, str]) -> str:
    """The packed value the chunk fields of hash `h` hold, in order ("" when there are none)."""
    parts: list[str] = []
    while (part := h.get(chunk_field(len(parts)))) is not None:
        parts.append(part)
    return "".join(parts)


def digest(value: str) -> str:
    """What callback.lua compares (redis.sha1hex) to act only on the packed value it was given."""
    return hashlib.sha1(value.encode()).hexdigest()  # an equality check, not a secret


def unpack(value: str) -> dict[str, str]:
    """field -> packed record of a packed value (`joined`); {} for "". ValueError if it is not one."""
    if not value:
        return {}
    if not value.startswith(FORMAT):
        raise ValueError(f"packed records of an unknown format: {value[:2]!r}")
    records = json.loads(zlib.decompress(base64.b85decode(value[len(FORMAT) :]), -15).decode())
    if not isinstance(records, dict):
        raise ValueError("packed records are not an object")
    return {str(field): str(record) for field, record in records.items()}


def merge(h: Mapping[str, str]) -> dict[str, str]:
    """Every record of a records hash: the packed ones, then its plain fields over them."""
    merged = unpack(joined(h))
    merged.update((field, value) for field, value in h.items() if not is_chunk(field))
    return merged


def has_plain(h: Mapping[str, str]) -> bool:
    """Whether the hash holds a record that is not packed yet (there is something to compact)."""
    return any(not is_chunk(field) for field in h)


def hash_digest(h: Mapping[str, str]) -> str:
    """compact_records.lua's check that the hash is still as read: sha1 of its fields and values,
    in HGETALL's order, each followed by a newline."""
    return digest("".join(f"{field}\n{value}\n" for field, value in h.items()))
