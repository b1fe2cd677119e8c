"""Message records: taking "sending", recording outcomes, status callbacks, operator lists.

Records live in each enrollment's `:m` hash (packing: worker.store.codec); begin_send.lua,
finish_send.lua and callback.lua change them atomically with the checks they need. Once the
enrollment has ended they are packed into chunk fields of the enrollment hash and the `:m` hash
goes (worker.store.packed); the readers here open both transparently.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import worker.store.packed as packed
from worker.records import MessageRecord, MessageState, epoch_ms, epoch_s, parse_message_id
from worker.store.codec import CALLBACK_RANKS, STATE_CODES, encode_history, pack_record, record_field, unpack_record
from worker.store.keys import OperatorIndex, enrollment_key, records_key
from worker.store.ops import Call, Op, ScriptCall, command, effect, one
from worker.store.results import BeginSend, CallbackResult, FinishSend, parse_begin, parse_finish

NO_CURSOR = "-"  # finish_send.lua and begin_send.lua: a resend or retry, no cursor check or move


def _locate(mid: str) -> tuple[str, str]:
    """(enrollment id, record field) of a message id."""
    eid, step, channel, occurrence = parse_message_id(mid)
    return eid, record_field(step, channel, occurrence)


def _expect(cursor: int | None, intro: bool, occurrence: int) -> str:
    """What begin_send.lua and finish_send.lua check a message against: the introduction to the
    `occurrence`-th number, the lesson at `cursor`, or nothing (a resend)."""
    if intro:
        return f"i{occurrence}"
    return NO_CURSOR if cursor is None else str(cursor)


def begin_send(mid: str, cursor: int | None, now: datetime, stale_s: int, *, intro: bool = False) -> Call[BeginSend]:
    """Take the message's "sending" state if nothing forbids it (begin_send.lua); with `intro`,
    the message is the introduction its id's occurrence numbers, checked against the one waiting."""
    eid, step, channel, occurrence = parse_message_id(mid)
    field = record_field(step, channel, occurrence)
    args = [channel, _expect(cursor, intro, occurrence), field, epoch_s(now), stale_s]
    op = ScriptCall("begin_send", [enrollment_key(eid), records_key(eid)], args)
    return one(op, lambda raw: parse_begin(eid, field, raw))


def finish_send(
    record: MessageRecord,
    cursor: int | None,
    next_due: datetime | None,
    history: Sequence[datetime],
    now: datetime,
    retention_s: int,
    *,
    timezone: str = "",
    intro: bool = False,
) -> Call[FinishSend]:
    """Write `record` and, with a `cursor`, move the channel on to the step after it (its due time
    computed in `timezone`); with `intro`, mark the number's introduction done (finish_send.lua)."""
    eid, channel = record.enrollment_id, record.channel
    args = [
        channel,
        _expect(cursor, intro, record.occurrence),
        record_field(record.step, channel, record.occurrence),
        pack_record(record),
        0 if cursor is None else cursor + 1,
        epoch_ms(next_due) if next_due else 0,
        encode_history(history),
        epoch_s(now),
        retention_s,
        timezone,
    ]
    return one(ScriptCall("finish_send", [enrollment_key(eid), records_key(eid)], args), parse_finish)


def end_pending(eid: str, channel: str, reason: str, now: datetime) -> Call[int]:
    """End the channel's records still waiting to go as `skipped` for `reason` (end_pending.lua)."""
    return one(ScriptCall("end_pending", [records_key(eid)], [channel, reason, epoch_s(now)]), int)


def records(eid: str) -> Call[list[MessageRecord]]:
    """Every record of the enrollment, oldest first (those without a time last), packed or not."""

    def parse(raw: list[Any]) -> list[MessageRecord]:
        found = (unpack_record(eid, f, v) for f, v in packed.Stored.read(raw[0], raw[1]).records(eid).items())
        return sorted(found, key=lambda r: (r.at is None, r.at))

    return Call(_reads(eid), parse)


def record(mid: str) -> Call[MessageRecord | None]:
    """One record, packed or not (one round trip)."""
    eid, field = _locate(mid)

    def parse(raw: list[Any]) -> MessageRecord | None:
        value = raw[0] or packed.unpack(eid, packed.joined(raw[1])).get(field)
        return unpack_record(eid, field, str(value)) if value else None

    return Call((command("hget", records_key(eid), field), command("hgetall", enrollment_key(eid))), parse)


def _reads(eid: str) -> tuple[Op, Op]:
    """The records hash and the enrollment hash (whose chunk fields hold the packed records)."""
    return command("hgetall", records_key(eid)), command("hgetall", enrollment_key(eid))


def stored(eids: Sequence[str]) -> Call[list[packed.Stored]]:
    """Each enrollment's records as stored: plain fields and packed chunks."""
    ops = tuple(op for eid in eids for op in _reads(eid))
    return Call(ops, lambda raw: [packed.Stored.read(raw[i], raw[i + 1]) for i in range(0, len(raw), 2)])


def compact(eid: str, read: packed.Stored) -> Call[bool]:
    """Pack the records of an ended enrollment, as `read`, into chunk fields of its enrollment
    hash and drop its records hash, if nothing changed since the read and the enrollment has
    ended (compact_records.lua): whether it was compacted."""
    chunks = packed.pack(eid, read.records(eid))
    args = [read.digest(), *(item for pair in chunks.items() for item in pair)]
    return one(ScriptCall("compact_records", [enrollment_key(eid), records_key(eid)], args), lambda n: bool(int(n)))


def apply_callback(
    mid: str, state: MessageState, reason: str, now: datetime, seed: tuple[str, str] | None = None
) -> Call[CallbackResult]:
    """Move the record forward to `state`, never back (callback.lua). `seed`: (the record as the
    packed chunks hold it, the digest of the packed value it came from), after a PACKED answer."""
    eid, field = _locate(mid)
    args = [field, STATE_CODES[state], CALLBACK_RANKS[state], reason, epoch_s(now), *(seed or ())]
    return one(ScriptCall("callback", [records_key(eid), enrollment_key(eid)], args), CallbackResult)


def packed_seed(mid: str, read: packed.Stored) -> tuple[str, str] | None:
    """(the packed record of `mid`, the packed value's digest) from records as read; None when
    the chunks hold no such record."""
    eid, field = _locate(mid)
    value = packed.joined(read.chunks)
    found = packed.unpack(eid, value).get(field)
    return None if found is None else (found, packed.digest(value))


def add_to_index(index: OperatorIndex, mid: str, now: datetime) -> Call[None]:
    return effect(command("zadd", index.value, {mid: epoch_s(now)}))


def drop_from_index(index: OperatorIndex, mid: str) -> Call[None]:
    return effect(command("zrem", index.value, mid))


def indexed_messages(index: OperatorIndex, limit: int) -> Call[list[str]]:
    return one(command("zrange", index.value, 0, limit - 1), _strings)


def index_size(index: OperatorIndex) -> Call[int]:
    return one(command("zcard", index.value), int)


def _strings(raw: Any) -> list[str]:
    return [str(v) for v in raw]
