"""Message records: taking "sending", recording outcomes, status callbacks, operator lists.

Records live in each enrollment's `:m` hash (packing: worker.store.codec); begin_send.lua,
finish_send.lua and callback.lua change them atomically with the checks they need. Once the
enrollment has ended they are compacted into packed chunks (worker.store.packed), which the
readers here open transparently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import worker.store.packed as packed
from worker.records import MessageRecord, MessageState, epoch_ms, epoch_s, parse_message_id
from worker.store.codec import CALLBACK_RANKS, STATE_CODES, encode_history, pack_record, record_field, unpack_record
from worker.store.keys import OperatorIndex, enrollment_key, records_key
from worker.store.ops import Call, ScriptCall, command, effect, one
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

    def parse(raw: dict[str, str]) -> list[MessageRecord]:
        found = (unpack_record(eid, f, v) for f, v in packed.merge(eid, raw).items())
        return sorted(found, key=lambda r: (r.at is None, r.at))

    return one(command("hgetall", records_key(eid)), parse)


def record(mid: str) -> Call[MessageRecord | None]:
    """One record; an ended enrollment's packed chunks are read along (one round trip)."""
    eid, field = _locate(mid)

    def parse(raw: list[Any]) -> MessageRecord | None:
        value = raw[0] or packed.unpack(eid, packed.joined(raw[1])).get(field)
        return unpack_record(eid, field, str(value)) if value else None

    key = records_key(eid)
    return Call((command("hget", key, field), command("hgetall", key)), parse)


def raw_records(eids: Sequence[str]) -> Call[list[dict[str, str]]]:
    """Each enrollment's records hash as stored (plain fields and packed chunks)."""
    return Call(tuple(command("hgetall", records_key(eid)) for eid in eids), lambda raw: [dict(h) for h in raw])


def compact(eid: str, stored: Mapping[str, str]) -> Call[bool]:
    """Pack the records hash `stored` (as read) of an ended enrollment into chunks, if it is still
    as read and the enrollment has ended (compact_records.lua): whether it was compacted."""
    chunks = packed.pack(eid, packed.merge(eid, stored))
    args = [packed.hash_digest(stored), *(item for pair in chunks.items() for item in pair)]
    return one(ScriptCall("compact_records", [enrollment_key(eid), records_key(eid)], args), lambda n: bool(int(n)))


def apply_callback(
    mid: str, state: MessageState, reason: str, now: datetime, seed: tuple[str, str] | None = None
) -> Call[CallbackResult]:
    """Move the record forward to `state`, never back (callback.lua). `seed`: (the record as the
    packed chunks hold it, the digest of the packed value it came from), after a PACKED answer."""
    eid, field = _locate(mid)
    args = [field, STATE_CODES[state], CALLBACK_RANKS[state], reason, epoch_s(now), *(seed or ())]
    return one(ScriptCall("callback", [records_key(eid)], args), CallbackResult)


def packed_seed(mid: str, stored: Mapping[str, str]) -> tuple[str, str] | None:
    """(the packed record of `mid`, the packed value's digest) from a records hash as read; None
    when the chunks hold no such record."""
    eid, field = _locate(mid)
    value = packed.joined(stored)
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
