"""A clinic's enrollments by creation time (`cd:enrollments:<clinic id>`), for the console's
patient list: enrollment ids only, never anything about the patient (the ref and name stay
sealed in each enrollment).

One hash per clinic (clinic_index.lua): buckets of up to 64 fixed-width records
`<created ms, 9 base-36 digits><enrollment id>` in time order, so an entry costs ~30 B instead of
a sorted-set member's ~120 B; paging newest first skips whole buckets by their length. Written
with each create (same round trip; bulk intake's creates are the same calls) and kept a retention
past the clinic's latest enrollment. A create that did not create (a repeat) takes its record back
(`withdraw`, with the audit entry's take-back), so an id is listed once, at its first time. An
enrollment that expired or was erased leaves its id behind until a reader finds it gone and drops
it (`forget`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from worker.records import Enrollment, epoch_ms
from worker.store.keys import clinic_enrollments_key
from worker.store.ops import Call, ScriptCall, effect, one

SCRIPT = "clinic_index"
DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
ID_LENGTH = 20  # worker.tokens.enrollment_id
STAMP_LENGTH = 9  # base-36 digits of the created ms (up to year 5188)
WIDTH = STAMP_LENGTH + ID_LENGTH  # a record's characters (clinic_index.lua's W)


def record(eid: str, created_at: datetime) -> str:
    """The index's record of an enrollment: its creation (epoch ms, 9 base-36 digits) and its id;
    records sort as (time, id) do."""
    ms, digits = epoch_ms(created_at), []
    for _ in range(STAMP_LENGTH):
        ms, d = divmod(ms, 36)
        digits.append(DIGITS[d])
    return "".join(reversed(digits)) + eid


def parse_record(rec: str) -> tuple[str, int]:
    """(enrollment id, created epoch ms) of a record."""
    return rec[STAMP_LENGTH:], int(rec[:STAMP_LENGTH], 36)


def add(enrollment: Enrollment, ttl_s: int) -> tuple[ScriptCall, ...]:
    """The op that lists a new enrollment under its clinic; it answers the bucket it went to (for
    `withdraw`). None for an id not of the usual form (not listed: the console finds it by ref)."""
    if len(enrollment.id) != ID_LENGTH or not enrollment.id.isalnum():
        return ()
    rec = record(enrollment.id, enrollment.created_at)
    return (ScriptCall(SCRIPT, [clinic_enrollments_key(enrollment.clinic_id)], ["add", rec, max(ttl_s, 0)]),)


def withdraw(enrollment: Enrollment, bucket: int) -> Call[None]:
    """Take back the record `add` put in `bucket` (its create did not create)."""
    rec = record(enrollment.id, enrollment.created_at)
    return effect(ScriptCall(SCRIPT, [clinic_enrollments_key(enrollment.clinic_id)], ["withdraw", rec, bucket]))


def page(clinic_id: str, offset: int, count: int) -> Call[tuple[list[str], int]]:
    """(`count` enrollment ids from `offset`, newest first; how many the clinic has listed)."""

    def parse(raw: list[Any]) -> tuple[list[str], int]:
        ids = list(dict.fromkeys(str(e) for e in raw[0]))  # once each (a take-back lost to a crash)
        return ids, int(raw[1])

    return one(ScriptCall(SCRIPT, [clinic_enrollments_key(clinic_id)], ["page", offset, count]), parse)


def forget(clinic_id: str, eids: Sequence[str]) -> Call[None]:
    """Drop ids whose enrollment is no longer stored (expired or erased)."""
    if not eids:
        return effect()
    return effect(ScriptCall(SCRIPT, [clinic_enrollments_key(clinic_id)], ["forget", *eids]))


def listed(raw: Any) -> list[tuple[str, int]]:
    """Every (enrollment id, created ms) of a clinic's index as HGETALL read it, oldest first
    (tests and `caredrip` checks)."""
    fields = {str(k): str(v) for k, v in dict(raw).items()}
    top = int(fields.get("t", "-1"))
    value = "".join(fields.get(str(b), "") for b in range(top + 1))
    return [parse_record(value[i : i + WIDTH]) for i in range(0, len(value), WIDTH)]
