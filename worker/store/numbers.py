"""Recipients: which clinic texted a number last, which enrollments have it, its recent sends.

One hash per recipient, `cd:{n:<bi>}`, by the blind index (`bi`) of the number, or for email caps
of the address (`worker.phi.IndexKey.blind_index`): the number itself is never a key or a field
name. Its fields: `last` and `e:<enrollment id>` route replies (worker.routing); `h:<tag>`, one
per recent send (the tag a short hash of the message id), hold what the caps count, reserved
atomically across workers before each provider call (reserve_send.lua) and released when the
message is not handed over after all. One key a recipient keeps memory per patient low.

When a program of the number ends, its sends are parked (park_sends.lua) in `cd:{n:<bi>}:h`
(`<tag>` -> epoch ms), a key that expires 8 days later: still counted by the caps while they
matter, and gone after, so a patient whose program ended keeps only the routing fields for the
rest of the retention.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

from worker.records import epoch_ms, epoch_s, from_epoch_ms, from_epoch_s
from worker.store.keys import number_key, number_replies_key, number_sends_key
from worker.store.ops import Call, Op, ScriptCall, command, effect, one
from worker.store.results import LastMessage, NumberRecord, Reservation, ReserveStatus

SENDS_KEEP_MS = 8 * 86400 * 1000  # the caps look back 7 x 24 h; a day more for clock skew
WEEK_MS = 7 * 86400 * 1000
LAST = "last"
ENROLLMENT_PREFIX = "e:"
SEND_PREFIX = "h:"


def send_tag(mid: str) -> str:
    """Message `mid`'s tag: 8 characters of its hash (48 bits: two messages of one recipient
    within 8 days never share one in practice); its field among the parked sends."""
    digest = hashlib.blake2b(mid.encode(), digest_size=6).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


def send_field(mid: str) -> str:
    """The field of message `mid` among the sends in a recipient's record: `h:` + its tag."""
    return SEND_PREFIX + send_tag(mid)


def note_enrollment(bi: str, eid: str, clinic_id: str, ttl_s: int) -> Call[bool]:
    """Note `eid` (of `clinic_id`) as an enrollment of the number (enroll_number.lua); True when
    the note is new, False when it was there (then nothing changed)."""
    op = ScriptCall("enroll_number", [number_key(bi)], [ENROLLMENT_PREFIX + eid, clinic_id, ttl_s * 1000])
    return one(op, lambda added: bool(int(added)))


def forget_enrollment(bi: str, eid: str) -> Call[None]:
    return effect(command("hdel", number_key(bi), ENROLLMENT_PREFIX + eid))


def move_enrollment(old_bi: str | None, new_bi: str, eid: str, clinic_id: str, ttl_s: int) -> Call[None]:
    """The enrollment's number changed (PATCH): noted for the new number, no longer for the old."""
    ops: tuple[Op, ...] = (
        command("hset", number_key(new_bi), ENROLLMENT_PREFIX + eid, clinic_id),
        command("pexpire", number_key(new_bi), ttl_s * 1000),
    )
    if old_bi is not None and old_bi != new_bi:
        ops = (*forget_enrollment(old_bi, eid).ops, *ops)
    return effect(*ops)


def note_last(bi: str, clinic_id: str, eid: str, at: datetime, ttl_s: int | None) -> Call[None]:
    """The latest SMS handed to the provider for the number is `eid`'s, of `clinic_id`, at `at`;
    with `ttl_s`, the record expires that long after (None: its expiry was just renewed)."""
    key = number_key(bi)
    note = command("hset", key, LAST, f"{clinic_id}|{eid}|{epoch_s(at)}")
    return effect(note) if ttl_s is None else effect(note, command("pexpire", key, ttl_s * 1000))


def record(bi: str) -> Call[NumberRecord]:
    return one(command("hgetall", number_key(bi)), _number_record)


def _number_record(raw: dict[str, str]) -> NumberRecord:
    last: LastMessage | None = None
    if raw.get(LAST):
        clinic_id, eid, at = [*str(raw[LAST]).split("|"), "", "", "0"][:3]
        last = LastMessage(clinic_id, eid, from_epoch_s(int(at or 0)))
    enrollments = {
        str(f).removeprefix(ENROLLMENT_PREFIX): str(v) for f, v in raw.items() if str(f).startswith(ENROLLMENT_PREFIX)
    }
    return NumberRecord(last, enrollments)


def reserve(
    bi: str,
    mid: str,
    now: datetime,
    day: tuple[datetime, datetime],
    caps: tuple[int | None, int | None],
    ttl_s: int,
) -> Call[Reservation]:
    """Reserve message `mid`'s place in the recipient's sends if the caps (per day, per week)
    allow one more at `now` (reserve_send.lua); `day` is the recipient's local day [start, next
    start); a reservation renews the record's expiry to `ttl_s`."""
    now_ms = epoch_ms(now)
    per_day, per_week = caps
    args = [
        send_field(mid),
        now_ms,
        epoch_ms(day[0]),
        epoch_ms(day[1]),
        now_ms - WEEK_MS,
        per_day or 0,
        per_week or 0,
        now_ms - SENDS_KEEP_MS,
        max(ttl_s * 1000, SENDS_KEEP_MS),
    ]
    return one(ScriptCall("reserve_send", [number_key(bi), number_sends_key(bi)], args), _reservation)


def _reservation(raw: list[Any]) -> Reservation:
    status = ReserveStatus(str(raw[0]))
    return Reservation(status, tuple(sorted(from_epoch_ms(int(at)) for at in raw[1:])))


def release(bi: str, mid: str) -> Call[None]:
    """Give message `mid`'s place back: it was not handed to the provider after all."""
    return effect(
        command("hdel", number_sends_key(bi), send_tag(mid)), command("hdel", number_key(bi), send_field(mid))
    )


def park(bi: str, now: datetime) -> Call[int]:
    """A program of the number ended: its sends move to the parked key, expiring 8 days from now
    (park_sends.lua); how many moved."""
    args = [epoch_ms(now) - SENDS_KEEP_MS, SENDS_KEEP_MS]
    return one(ScriptCall("park_sends", [number_key(bi), number_sends_key(bi)], args), int)


def sends(bi: str) -> Call[list[datetime]]:
    """The recipient's sends the caps count (those of the last 8 days at the last reservation), oldest first."""
    return Call((command("hgetall", number_sends_key(bi)), command("hgetall", number_key(bi))), _sends)


def _sends(raw: list[Any]) -> list[datetime]:
    parked, record = dict(raw[0]), dict(raw[1])
    values = [*parked.values(), *(v for f, v in record.items() if str(f).startswith(SEND_PREFIX))]
    return sorted(from_epoch_ms(int(v)) for v in values)


def drop(bi: str) -> Call[None]:
    """Remove the number's record (with its sends) and its reply index (erasure; the replies
    themselves go through worker.store.replies)."""
    return effect(command("delete", number_key(bi), number_sends_key(bi), number_replies_key(bi)))
