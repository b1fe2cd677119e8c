"""Enrollments: the enrollment hash, its generations, lifecycle and SMS opt-outs (by the number's
blind index). The patient's details are sealed by the codec; writing them is the Store's (a
compare-and-set, worker.store.sealed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import worker.store.clinic_enrollments as clinic_enrollments
import worker.store.due as due
import worker.store.numbers as numbers
from worker.phi import IndexKey, Keyring
from worker.records import Enrollment, EnrollmentUpdate, OptOut, OptOutSource, epoch_ms, epoch_s
from worker.store.codec import (
    decode_enrollment,
    encode_enrollment,
    encode_update,
    optout_field,
    pack_opt_out,
    unpack_opt_out,
)
from worker.store.keys import OPTOUT_SMS, enrollment_key, generation_key, records_key
from worker.store.ops import Call, ScriptCall, command, effect, one
from worker.store.results import (
    Created,
    Lifecycle,
    LifecycleAction,
    Retime,
    parse_created,
    parse_lifecycle,
    parse_retime,
)


def create(
    keyring: Keyring, enrollment: Enrollment, number_index: str | None, ttl_s: int
) -> Call[tuple[Created, bool, int | None]]:
    """Store `enrollment` unless its id exists or (generation 0) a later generation does
    (enroll.lua), schedule each channel (NX), list it under its clinic and, with the blind index of
    its phone, note it for that number (enroll_number.lua); (what enroll.lua answered, whether the
    number was noted, the clinic index's bucket it was listed in: a repeat takes it back with
    `clinic_enrollments.withdraw`)."""
    flat = [x for kv in encode_enrollment(enrollment, keyring).items() for x in kv]
    keys = [enrollment_key(enrollment.id)]
    if enrollment.generation == 0:
        keys.append(generation_key(enrollment.id))
    scheduled = due.schedule(enrollment).ops
    listing = clinic_enrollments.add(enrollment, ttl_s)
    ops = (ScriptCall("enroll", keys, flat), *scheduled, *listing)
    at = 1 + len(scheduled)

    def bucket(raw: list[Any]) -> int | None:
        return int(raw[at]) if listing else None

    if number_index is None:
        return Call(ops, lambda raw: (parse_created(raw[0]), False, bucket(raw)))
    note = numbers.note_enrollment(number_index, enrollment.id, enrollment.clinic_id, ttl_s)
    return Call((*ops, *note.ops), lambda raw: (parse_created(raw[0]), note.parse(raw[-1:]), bucket(raw)))


def generation_started(first_eid: str, generation: int) -> Call[int]:
    """Point generation 0 (`first_eid`) at `generation`, a newer one now running (generation.lua)."""
    return one(ScriptCall("generation", [generation_key(first_eid)], ["started", generation, 0]), int)


def generation_ended(first_eid: str, generation: int, retention_s: int) -> Call[int]:
    """`generation` ended: the pointer naming it expires a retention from now (generation.lua)."""
    return one(ScriptCall("generation", [generation_key(first_eid)], ["ended", generation, retention_s]), int)


def get_many(keyring: Keyring, eids: Sequence[str]) -> Call[list[Enrollment | None]]:
    def parse(rows: list[Any]) -> list[Enrollment | None]:
        return [decode_enrollment(e, h, keyring) if h else None for e, h in zip(eids, rows, strict=True)]

    return Call(tuple(command("hgetall", enrollment_key(e)) for e in eids), parse)


def update_unsealed(eid: str, change: EnrollmentUpdate) -> Call[None]:
    """Write the update's fields other than the patient's details (they did not change)."""
    return effect(command("hset", enrollment_key(eid), mapping=encode_update(change)))


def retime(eid: str, channel: str, cursor: int, due: datetime | None) -> Call[Retime]:
    """Set the channel's next due time, only while its cursor is still `cursor` (retime.lua)."""
    op = ScriptCall("retime", [enrollment_key(eid)], [channel, cursor, epoch_ms(due) if due else 0])
    return one(op, parse_retime)


def lifecycle(
    eid: str, action: LifecycleAction, now: datetime, retention_s: int, reason: str = ""
) -> Call[Lifecycle | None]:
    """Pause, resume or cancel (lifecycle.lua); None when the enrollment is gone. `reason`: why a
    pause pauses, or the only pause a resume ends ('' any)."""
    args = [action, epoch_s(now), retention_s, reason]
    op = ScriptCall("lifecycle", [enrollment_key(eid), records_key(eid)], args)
    return one(op, parse_lifecycle)


def opt_out_channel(eid: str, channel: str, now: datetime, source: OptOutSource) -> Call[None]:
    """Opt one enrollment out of `channel` (HSETNX: an earlier opt-out's record stays)."""
    return effect(command("hsetnx", enrollment_key(eid), optout_field(channel), pack_opt_out(now, source)))


def channel_opt_outs(eid: str, channels: Sequence[str]) -> Call[dict[str, OptOut]]:
    """The enrollment's own opt-outs among `channels` (email unsubscribe), by channel."""
    if not channels:
        return Call((), lambda _raw: {})

    def parse(values: list[Any]) -> dict[str, OptOut]:
        return {ch: unpack_opt_out(str(v)) for ch, v in zip(channels, values, strict=True) if v is not None}

    return one(command("hmget", enrollment_key(eid), [optout_field(ch) for ch in channels]), parse)


def optout_fields(index: IndexKey, numbers: Sequence[str]) -> list[str]:
    """The opt-out hash's field of each number: its blind index ("" for no number, found nowhere)."""
    return [_blind_index(index, n) for n in numbers]


def _blind_index(index: IndexKey, number: str) -> str:
    try:
        return index.blind_index(number)
    except ValueError:  # no number, or not one: nobody's opt-out
        return ""


def sms_opted_out(index: IndexKey, numbers: Sequence[str]) -> Call[list[bool]]:
    """Whether each number opted out of SMS (no round trip for none)."""
    return sms_opted_out_indexed(optout_fields(index, numbers))


def sms_opted_out_indexed(fields: Sequence[str | None]) -> Call[list[bool]]:
    """`sms_opted_out` for numbers given by their blind index (None: no number, found nowhere)."""
    if not fields:
        return Call((), lambda _raw: [])
    hmget = command("hmget", OPTOUT_SMS, [f or "" for f in fields])
    return one(hmget, lambda values: [v is not None for v in values])


def sms_opt_outs(index: IndexKey, numbers: Sequence[str]) -> Call[list[OptOut | None]]:
    """Each number's SMS opt-out (when, by which source), or None where it takes SMS."""
    if not numbers:
        return Call((), lambda _raw: [])

    def parse(values: list[Any]) -> list[OptOut | None]:
        return [None if v is None else unpack_opt_out(str(v)) for v in values]

    return one(command("hmget", OPTOUT_SMS, optout_fields(index, numbers)), parse)


def opt_out_sms(index: IndexKey, number: str, now: datetime, source: OptOutSource) -> Call[None]:
    """Opt `number` out of SMS from every clinic (HSETNX: an earlier opt-out's record stays);
    nothing for what is not an E.164 number (no message goes to it)."""
    field = _blind_index(index, number)
    return effect(command("hsetnx", OPTOUT_SMS, field, pack_opt_out(now, source))) if field else effect()


def opt_in_sms(index: IndexKey, number: str) -> Call[None]:
    field = _blind_index(index, number)
    return effect(command("hdel", OPTOUT_SMS, field)) if field else effect()
