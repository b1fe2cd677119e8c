"""The send path's part of "one number, many clinics": per-recipient caps and the latest message.

Caps count per recipient — an SMS's number, an email's address, by blind index — not per
enrollment, so two enrollments to one number (one clinic or two) never give that person more
than the caps allow. Right before the "sending" state is taken, each message reserves its place
in the recipient's recent sends (one pipelined round trip a chunk, reserve_send.lua: atomic
across workers). A full cap holds the message to the first instant quiet hours and the caps
allow (`worker.schedule.next_allowed`, the one cap rule); it is never dropped. A place is given
back when the message is not handed over after all (not begun, skipped, failed, retrying), and
only by the attempt that owns it: the one that reserved it, or the one that took the message's
"sending" state (a place left by an earlier, interrupted attempt of the same message is the
message's: another worker may be sending it). `sent` and `unknown` keep their place.

With each outcome (in the finish round trip) an SMS handed to the provider notes whose message
the number received last: its replies go to that clinic (worker.routing).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from worker.delivery.types import DeliveryDeps, Pending
from worker.records import Channel, MessageState
from worker.routing import blind_index
from worker.schedule import channel_caps, local_day, next_allowed
from worker.store import Batch, ReserveStatus

# Outcomes after which the message may have reached the recipient: it keeps its place.
COUNTED = frozenset({MessageState.SENT, MessageState.DELIVERED, MessageState.UNDELIVERED, MessageState.UNKNOWN})
# Outcomes after which the number may have received it: its replies go to this message's clinic.
RECEIVED = frozenset({MessageState.SENT, MessageState.DELIVERED, MessageState.UNKNOWN})
RECHECK = timedelta(minutes=5)  # a held message whose cap the Python rule sees as free: look again then


def recipient(deps: DeliveryDeps, channel: str, p: Pending) -> str | None:
    """The blind index of the message's recipient (its number for SMS, its address for email),
    computed once per message on its way."""
    if not p.recipient_known:
        contact = Channel(channel).address(p.enrollment.phone, p.enrollment.email)
        p.recipient_bi = blind_index(deps.engine.index, contact) if contact else None
        p.recipient_known = True
    return p.recipient_bi


def _mid(p: Pending, channel: str) -> str:
    return p.message.id if p.message is not None else p.message_id(channel)


def reserve(
    deps: DeliveryDeps, channel: str, pending: Sequence[Pending], now: datetime
) -> tuple[list[Pending], list[tuple[Pending, datetime]]]:
    """(messages that may go now, each holding its place; messages a full cap holds, with the
    first instant they may go). No round trip when the channel has no caps."""
    per_day, per_week = channel_caps(deps.caps, channel)
    if per_day is None and per_week is None:
        return list(pending), []
    batch = deps.engine.store.batch()
    ttl_s = deps.engine.retention_s if channel == Channel.SMS else 0  # a number's record also routes replies
    asks = []
    days: dict[str, tuple[datetime, datetime]] = {}  # by timezone: a batch shares a few
    for p in pending:
        bi = recipient(deps, channel, p)
        tz = ZoneInfo(p.enrollment.timezone)
        day = days.get(p.enrollment.timezone) or days.setdefault(p.enrollment.timezone, local_day(now, tz))
        caps = (per_day, per_week)
        reply = None if bi is None else batch.reserve_send(bi, _mid(p, channel), now, day, caps, ttl_s)
        asks.append((p, bi, tz, reply))
    batch.run()
    allowed: list[Pending] = []
    held: list[tuple[Pending, datetime]] = []
    for p, bi, tz, reply in asks:
        if reply is None:
            allowed.append(p)
        elif reply.value.status is ReserveStatus.HELD:
            at = next_allowed(now, tz, deps.engine.quiet, reply.value.sends, per_day, per_week)
            held.append((p, at if at > now else now + RECHECK))
        else:
            p.reserved_in, p.owns_place = bi, reply.value.status is ReserveStatus.NEW
            allowed.append(p)
    return allowed, held


def adopt(p: Pending) -> None:
    """This attempt took the message's "sending" state: no one else is sending it, so the
    message's place is this attempt's to keep or give back, whoever reserved it."""
    p.owns_place = p.reserved_in is not None


def release(batch: Batch, channel: str, p: Pending) -> None:
    """Give back the message's place if this attempt owns it: the message was not handed over."""
    if p.reserved_in is not None and p.owns_place:
        batch.release_send(p.reserved_in, _mid(p, channel))
        p.reserved_in, p.owns_place = None, False


def settle(deps: DeliveryDeps, batch: Batch, channel: str, p: Pending, state: MessageState, now: datetime) -> None:
    """With the message's outcome: give its place back unless it may have reached the recipient,
    and note an SMS the number may have received as the number's latest message."""
    if state not in COUNTED:
        release(batch, channel, p)
    if channel == Channel.SMS and state in RECEIVED:
        bi = p.reserved_in or recipient(deps, channel, p)
        if bi is not None:
            # A place kept in the record renewed its expiry when it was reserved: no need again.
            renew = None if p.reserved_in else deps.engine.retention_s
            batch.note_last_message(bi, p.enrollment.clinic_id, p.enrollment.id, now, renew)
