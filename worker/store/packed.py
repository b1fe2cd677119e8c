"""An ended enrollment's message records packed into a few hash fields (compaction).

While an enrollment runs, its records hash `cd:{e:<id>}:m` holds one field per message
(`<step>.<channel>.<occurrence>` -> `code|at|lateness|provider id|reason|attempts`: ~141 B each
in Redis). Once it has ended (completed or canceled) nobody writes most of them again, so the
store replaces them with one packed value: the fields and their records made smaller (times as
offsets, Twilio SIDs as bytes, the message id in a provider id left out: `_squeeze`) as JSON,
deflated (raw, level 9), the SIDs' bytes after it, written in base 85 behind a `:1` (format 1),
cut into chunk fields `*0`, `*1`, ... of at most CHUNK characters each, so the hash stays in
Redis's compact listpack encoding under `hash-max-listpack-value 256`. The key, its expiry and its hash tag stay the same.

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
import re
import zlib
from collections.abc import Mapping

CHUNK_PREFIX = "*"  # chunk fields: `*0`, `*1`, ...; a record field starts with its step id
CHUNK = 240  # characters per chunk field: under the 256 B listpack value limit
FORMAT = ":1"  # the packed value's first characters (no record's state code is ':')
MID_MARK, SID_MARK, RAW_MARK = "\x00", "\x01", "\x02"  # in a packed entry (see _squeeze)
_SID = re.compile(r"SM[0-9a-f]{32}")  # a Twilio message SID: 16 bytes in hex


def is_chunk(field: str) -> bool:
    return field.startswith(CHUNK_PREFIX)


def chunk_field(i: int) -> str:
    return f"{CHUNK_PREFIX}{i}"


def pack(eid: str, records: Mapping[str, str]) -> dict[str, str]:
    """The chunk fields holding `records` (field -> packed record) of enrollment `eid`."""
    fields = sorted(records)
    times = [int(t) for f in fields if (t := _part(records[f], 1)).isdigit() and str(int(t)) == t]
    base = min(times, default=0)
    sids = bytearray()
    entries = [_squeeze(f"{eid}.{f}", records[f], base, sids) for f in fields]
    text = json.dumps([base, fields, entries], separators=(",", ":"), ensure_ascii=False).encode()
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = packer.compress(text) + packer.flush()
    value = FORMAT + base64.b85encode(len(body).to_bytes(4, "big") + body + bytes(sids)).decode("ascii")
    return {chunk_field(i // CHUNK): value[i : i + CHUNK] for i in range(0, len(value), CHUNK)}


def _part(value: str, i: int) -> str:
    parts = value.split("|")
    return parts[i] if i < len(parts) else ""


def _squeeze(mid: str, value: str, base: int, sids: bytearray) -> str:
    """One record, smaller and exactly reversible (`_expand`): its time as a hex offset from
    `base`, a Twilio SID as 16 bytes appended to `sids` (the entry keeps SID_MARK), the message id
    in a provider id (the outbox's, the SMTP Message-ID) as MID_MARK. Anything unexpected is kept
    as it is behind RAW_MARK."""
    parts = value.split("|")
    if len(parts) < 4 or any(mark in value for mark in (MID_MARK, SID_MARK, RAW_MARK)):
        return RAW_MARK + value
    at = parts[1]
    if at.isdigit() and str(int(at)) == at and int(at) >= base:
        parts[1] = format(int(at) - base, "x")
    elif at:
        parts[1] = RAW_MARK + at
    if _SID.fullmatch(parts[3]):
        sids += bytes.fromhex(parts[3][2:])
        parts[3] = SID_MARK
    else:
        parts[3] = parts[3].replace(mid, MID_MARK)
    return "|".join(parts)


def _expand(mid: str, entry: str, base: int, sids: list[bytes]) -> str:
    if entry.startswith(RAW_MARK):
        return entry[len(RAW_MARK) :]
    parts = entry.split("|")
    at = parts[1]
    if at.startswith(RAW_MARK):
        parts[1] = at[len(RAW_MARK) :]
    elif at:
        parts[1] = str(int(at, 16) + base)
    parts[3] = "SM" + sids.pop(0).hex() if parts[3] == SID_MARK else parts[3].replace(MID_MARK, mid)
    return "|".join(parts)


def joined(h: Mapping[str, str]) -> str:
    """The packed value the chunk fields of hash `h` hold, in order ("" when there are none)."""
    parts: list[str] = []
    while (part := h.get(chunk_field(len(parts)))) is not None:
        parts.append(part)
    return "".join(parts)


def digest(value: str) -> str:
    """What callback.lua compares (redis.sha1hex) to act only on the packed value it was given."""
    return hashlib.sha1(value.encode()).hexdigest()  # an equality check, not a secret


def unpack(eid: str, value: str) -> dict[str, str]:
    """field -> packed record of a packed value (`joined`) of enrollment `eid`; {} for "".
    ValueError if it is not one."""
    if not value:
        return {}
    if not value.startswith(FORMAT):
        raise ValueError(f"packed records of an unknown format: {value[:2]!r}")
    data = base64.b85decode(value[len(FORMAT) :])
    size = int.from_bytes(data[:4], "big")
    base, fields, entries = json.loads(zlib.decompress(data[4 : 4 + size], -15).decode())
    tail = data[4 + size :]
    sids = [tail[i : i + 16] for i in range(0, len(tail), 16)]
    return {str(f): _expand(f"{eid}.{f}", str(e), int(base), sids) for f, e in zip(fields, entries, strict=True)}


def merge(eid: str, h: Mapping[str, str]) -> dict[str, str]:
    """Every record of enrollment `eid`'s records hash: the packed ones, then its plain fields over them."""
    merged = unpack(eid, joined(h))
    merged.update((field, value) for field, value in h.items() if not is_chunk(field))
    return merged


def has_plain(h: Mapping[str, str]) -> bool:
    """Whether the hash holds a record that is not packed yet (there is something to compact)."""
    return any(not is_chunk(field) for field in h)


def hash_digest(h: Mapping[str, str]) -> str:
    """compact_records.lua's check that the hash is still as read: sha1 of its fields and values,
    in HGETALL's order, each followed by a newline."""
    return digest("".join(f"{field}\n{value}\n" for field, value in h.items()))
