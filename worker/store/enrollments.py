"""Enrollments and what patients tell us: the enrollment hash, lifecycle, SMS opt-outs, phone
numbers' clinics (for HELP) and the clinics' inboxes of other replies."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import worker.store.due as due
from worker.records import Enrollment, EnrollmentUpdate, OptOut, OptOutSource, epoch_ms, epoch_s
from worker.store.codec import (
    decode_enrollment,
    encode_enrollment,
    encode_update,
    optout_field,
    pack_opt_out,
    unpack_opt_out,
)
from worker.store.keys import INBOX_KEEP, OPTOUT_SMS, enrollment_key, inbox_key, phones_key, records_key
from worker.store.ops import Call, ScriptCall, command, effect, one
from worker.store.results import Lifecycle, LifecycleAction, Retime, parse_lifecycle, parse_retime


def create(enrollment: Enrollment, phone_clinic: str | None) -> Call[bool]:
    """Store `enrollment` unless its id exists (enroll.lua), schedule each channel (NX) and, with
    `phone_clinic`, note the clinic of its phone; True when created."""
    flat = [x for kv in encode_enrollment(enrollment).items() for x in kv]
    ops = (ScriptCall("enroll", [enrollment_key(enrollment.id)], flat), *due.schedule(enrollment).ops)
    if phone_clinic is not None and enrollment.phone:
        ops += (command("hset", phones_key(enrollment.phone), enrollment.phone, phone_clinic),)
    return Call(ops, lambda raw: bool(raw[0]))


def get_many(eids: Sequence[str]) -> Call[list[Enrollment | None]]:
    def parse(rows: list[Any]) -> list[Enrollment | None]:
        return [decode_enrollment(e, h) if h else None for e, h in zip(eids, rows, strict=True)]

    return Call(tuple(command("hgetall", enrollment_key(e)) for e in eids), parse)


def update(eid: str, change: EnrollmentUpdate) -> Call[None]:
    return effect(command("hset", enrollment_key(eid), mapping=encode_update(change)))


def retime(eid: str, channel: str, cursor: int, due: datetime | None) -> Call[Retime]:
    """Set the channel's next due time, only while its cursor is still `cursor` (retime.lua)."""
    op = ScriptCall("retime", [enrollment_key(eid)], [channel, cursor, epoch_ms(due) if due else 0])
    return one(op, parse_retime)


def lifecycle(eid: str, action: LifecycleAction, now: datetime, retention_s: int) -> Call[Lifecycle | None]:
    """Pause, resume or cancel (lifecycle.lua); None when the enrollment is gone."""
    op = ScriptCall("lifecycle", [enrollment_key(eid), records_key(eid)], [action, epoch_s(now), retention_s])
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


def sms_opted_out(numbers: Sequence[str]) -> Call[list[bool]]:
    """Whether each number opted out of SMS (no round trip for none)."""
    if not numbers:
        return Call((), lambda _raw: [])
    return one(command("hmget", OPTOUT_SMS, list(numbers)), lambda values: [v is not None for v in values])


def sms_opt_outs(numbers: Sequence[str]) -> Call[list[OptOut | None]]:
    """Each number's SMS opt-out (when, by which source), or None where it takes SMS."""
    if not numbers:
        return Call((), lambda _raw: [])

    def parse(values: list[Any]) -> list[OptOut | None]:
        return [None if v is None else unpack_opt_out(str(v)) for v in values]

    return one(command("hmget", OPTOUT_SMS, list(numbers)), parse)


def opt_out_sms(number: str, now: datetime, source: OptOutSource) -> Call[None]:
    """Opt `number` out of SMS from every clinic (HSETNX: an earlier opt-out's record stays)."""
    return effect(command("hsetnx", OPTOUT_SMS, number, pack_opt_out(now, source)))


def opt_in_sms(number: str) -> Call[None]:
    return effect(command("hdel", OPTOUT_SMS, number))


def remember_phone(number: str, clinic_id: str) -> Call[None]:
    return effect(command("hset", phones_key(number), number, clinic_id))


def clinic_for_phone(number: str) -> Call[str | None]:
    return one(command("hget", phones_key(number), number), lambda cid: str(cid) if cid else None)


def push_inbox(clinic_id: str, entry: str) -> Call[None]:
    """Keep a reply (JSON text) for the clinic; only the latest INBOX_KEEP stay."""
    key = inbox_key(clinic_id)
    return effect(command("lpush", key, entry), command("ltrim", key, 0, INBOX_KEEP - 1))


def inbox(clinic_id: str, limit: int) -> Call[list[str]]:
    return one(command("lrange", inbox_key(clinic_id), 0, limit - 1), lambda values: [str(v) for v in values])
