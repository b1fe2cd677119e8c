"""An ended enrollment's message records packed into a few hash fields (compaction).

While an enrollment runs, its records hash `cd:{e:<id>}:m` holds one field per message
(`<step>.<channel>.<occurrence>` -> `code|at|lateness|provider id|reason|attempts`: ~141 B each
in Redis). Once it has ended (completed or canceled) nobody writes most of them again, so the
store replaces them with one packed value: the fields and their records made smaller (times as
offsets, Twilio SIDs as bytes, the message id in a provider id left out: `_squeeze`) as lines,
deflated (raw, level 9, preset dictionary ZDICT), the SIDs' bytes after it, written as 7-bit
characters (`septets`: ASCII, which redis-py's decoding client reads back) behind a `:1`,
cut into chunk fields `*0`, `*1`, ... of at most CHUNK characters each, so the hash stays in
Redis's compact listpack encoding under `hash-max-listpack-value 256`. The key, its expiry and
its hash tag stay the same.

A write after that (a late status callback, a resend of a completed enrollment, a send that was
in flight when the enrollment was canceled) is a plain field again beside the chunks, and wins
over the packed copy of the same field: readers merge the two (`merge`), and the next
compaction folds it in. Lua scripts never open the chunks: callback.lua gets the packed record
from the caller, with the packed value's digest so that it acts only on what it was read from.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

CHUNK_PREFIX = "*"  # chunk fields: `*0`, `*1`, ...; a record field starts with its step id
CHUNK = 240  # characters per chunk field: under the 256 B listpack value limit
FORMAT = ":1"  # the packed value's first characters (no record's state code is ':')
MID_MARK, SID_MARK, RAW_MARK, PCT_MARK = "\x00", "\x01", "\x02", "\x03"  # in a packed entry (_squeeze)
_SID = re.compile(r"SM[0-9a-f]{32}")  # a Twilio message SID: 16 bytes in hex
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
# deflate's preset dictionary for format 1: what packed records often hold (never change it)
ZDICT = b"@caredrip>||1\n.email.1\n.sms.1\nk||||1\nS|0|<\x03@caredrip>||1\nd|0|\x01||1\nS|0|\x01||1\n"


def is_chunk(field: str) -> bool:
    return field.startswith(CHUNK_PREFIX)


def chunk_field(i: int) -> str:
    return f"{CHUNK_PREFIX}{i}"


def pack(eid: str, records: Mapping[str, str]) -> dict[str, str]:
    """The chunk fields holding `records` (field -> packed record) of enrollment `eid`."""
    fields = sorted(records, key=lambda f: (_time(records[f]) or 0, f))  # time order: small steps
    sids, entries, prev = bytearray(), [], 0
    for f in fields:
        entry, prev = _squeeze(f"{eid}.{f}", records[f], prev, sids)
        entries.append(entry)
    text = "\n".join([*map(_escape, fields), *map(_escape, entries)]).encode()
    packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, ZDICT)
    body = packer.compress(text) + packer.flush()
    value = FORMAT + septets(len(body).to_bytes(4, "big") + body + bytes(sids))
    return {chunk_field(i // CHUNK): value[i : i + CHUNK] for i in range(0, len(value), CHUNK)}


def _time(value: str) -> int | None:
    """A record's time (epoch s), when it is written the way pack_record writes it."""
    parts = value.split("|")
    at = parts[1] if len(parts) > 1 else ""
    return int(at) if at.isdigit() and str(int(at)) == at else None


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("\n", "\\n")


def _unescape(line: str) -> str:
    return _ESCAPED.sub(lambda m: "\n" if m.group(1) == "n" else m.group(1), line)


def septets(data: bytes) -> str:
    """`data` as 7-bit characters (ASCII, so redis-py's decoding reads it back): 8 for every 7
    bytes, against base 85's 5 for every 4."""
    out = bytearray()
    for i in range(0, len(data), 7):
        block = data[i : i + 7]
        bits, count = len(block) * 8, -(-len(block) * 8 // 7)
        n = int.from_bytes(block, "big") << (count * 7 - bits)
        out += bytes((n >> (7 * (count - 1 - j))) & 0x7F for j in range(count))
    return out.decode("ascii")


def from_septets(text: str) -> bytes:
    raw, out = text.encode("ascii"), bytearray()
    for i in range(0, len(raw), 8):
        group = raw[i : i + 8]
        size = len(group) * 7 // 8
        n = 0
        for septet in group:
            n = (n << 7) | septet
        out += (n >> (len(group) * 7 - size * 8)).to_bytes(size, "big")
    return bytes(out)


def _squeeze(mid: str, value: str, prev: int, sids: bytearray) -> tuple[str, int]:
    """One record, smaller and exactly reversible (`_expand`), and the time the next one's is
    counted from: its time as a hex step from `prev` (the previous record's), a Twilio SID as 16
    bytes appended to `sids` (the entry keeps SID_MARK), the message id in a provider id as
    MID_MARK (the outbox's) or PCT_MARK (the SMTP channel's Message-ID). Anything unexpected is kept behind RAW_MARK."""
    parts = value.split("|")
    if len(parts) < 4 or any(mark in value for mark in (MID_MARK, SID_MARK, RAW_MARK, PCT_MARK)):
        return RAW_MARK + value, prev
    at = _time(value)
    if at is not None and at >= prev:
        parts[1], prev = format(at - prev, "x"), at
    elif parts[1]:
        parts[1] = RAW_MARK + parts[1]
    if _SID.fullmatch(parts[3]):
        sids += bytes.fromhex(parts[3][2:])
        parts[3] = SID_MARK
    else:
        parts[3] = parts[3].replace(mid, MID_MARK).replace(_percent(mid), PCT_MARK)
    return "|".join(parts), prev


def _percent(mid: str) -> str:
    """The message id as the SMTP channel's Message-ID writes it (`.` as `%2E`)."""
    return mid.replace(".", "%2E")


def _expand(mid: str, entry: str, prev: int, sids: list[bytes]) -> tuple[str, int]:
    if entry.startswith(RAW_MARK):
        return entry[len(RAW_MARK) :], prev
    parts = entry.split("|")
    if parts[1].startswith(RAW_MARK):
        parts[1] = parts[1][len(RAW_MARK) :]
    elif parts[1]:
        prev += int(parts[1], 16)
        parts[1] = str(prev)
    if parts[3] == SID_MARK:
        parts[3] = "SM" + sids.pop(0).hex()
    else:
        parts[3] = parts[3].replace(MID_MARK, mid).replace(PCT_MARK, _percent(mid))
    return "|".join(parts), prev


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
    data = from_septets(value[len(FORMAT) :])
    size = int.from_bytes(data[:4], "big")
    unpacker = zlib.decompressobj(-15, ZDICT)
    lines = [
        _unescape(line) for line in (unpacker.decompress(data[4 : 4 + size]) + unpacker.flush()).decode().split("\n")
    ]
    count = len(lines) // 2
    tail = data[4 + size :]
    sids, records, prev = [tail[i : i + 16] for i in range(0, len(tail), 16)], {}, 0
    for f, entry in zip(lines[:count], lines[count:], strict=True):
        records[f], prev = _expand(f"{eid}.{f}", entry, prev, sids)
    return records


def merge(eid: str, h: Mapping[str, str]) -> dict[str, str]:
    """Every record of enrollment `eid` in `h` (chunk fields and plain records together): the
    packed ones, then the plain ones over them."""
    merged = unpack(eid, joined(h))
    merged.update((field, value) for field, value in h.items() if not is_chunk(field))
    return merged


@dataclass(frozen=True, slots=True)
class Stored:
    """An enrollment's records as read: its records hash `plain` (HGETALL order: one field per
    record written since the last compaction) and the chunk fields of its enrollment hash."""

    plain: dict[str, str]
    chunks: dict[str, str]

    @classmethod
    def read(cls, records_hash: Mapping[str, str], enrollment_hash: Mapping[str, str]) -> Stored:
        return cls(dict(records_hash), {f: v for f, v in enrollment_hash.items() if is_chunk(f)})

    def records(self, eid: str) -> dict[str, str]:
        return merge(eid, {**self.chunks, **self.plain})

    def digest(self) -> str:
        """compact_records.lua's check that nothing changed since the read: sha1 of the records
        hash's fields and values (each followed by a newline), then the packed value."""
        return digest("".join(f"{field}\n{value}\n" for field, value in self.plain.items()) + joined(self.chunks))
