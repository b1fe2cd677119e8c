"""Operator resend of a message in state `unknown`, `failed` or `undelivered`: a new occurrence, sent once.

The original record is kept; the resend gets the next occurrence number, so its id is new and
the "same id never handed to a provider twice" rule holds. Quiet hours still apply, and so do the
recipient's caps: a resend takes its place in the number's (or address's) recent sends like any
message (worker.delivery.recipients), so it counts toward the caps, and a full cap refuses it,
saying when the next message may go.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from worker import audit
from worker.audit import SYSTEM, Action
from worker.delivery import recipients
from worker.delivery.compose import render_message
from worker.delivery.send import send_one
from worker.delivery.types import DeliveryDeps, Pending
from worker.records import Channel, EnrollmentState, MessageState, message_id, parse_message_id
from worker.schedule import defer_quiet
from worker.store import FAILED_INDEX, UNKNOWN_INDEX

RESENDABLE = (MessageState.UNKNOWN, MessageState.FAILED, MessageState.UNDELIVERED)


def resend(deps: DeliveryDeps, mid: str, *, actor: str = SYSTEM) -> str:
    """Resend `mid`; returns a short outcome: `sent <new id>`, or why it was not sent. A resend
    handed to the provider (whatever came of it) is audited as done by `actor`; a refusal is not."""
    store, catalog = deps.engine.store, deps.engine.catalog
    eid, step_id, channel, _ = parse_message_id(mid)
    record = store.record(mid)
    if record is None:
        return "not found"
    if record.state not in RESENDABLE:
        return f"not resendable: state {record.state.value}"
    enrollment = store.get_enrollment(eid)
    if enrollment is None or enrollment.state not in (EnrollmentState.ACTIVE, EnrollmentState.COMPLETED):
        return "not resendable: enrollment not active"
    if channel == Channel.SMS and enrollment.phone and store.sms_opted_out([enrollment.phone])[0]:
        return "not resendable: number opted out"
    now = deps.engine.clock.now()
    allowed = defer_quiet(now, ZoneInfo(enrollment.timezone), deps.engine.quiet)
    if allowed > now:
        return f"not sent: quiet hours for the patient until {allowed.isoformat()}"
    program = catalog.get(enrollment.program, enrollment.version)
    siblings = [r for r in store.records(eid) if r.step == step_id and r.channel == channel]
    later = [r for r in siblings if r.occurrence > record.occurrence and r.state not in (MessageState.FAILED,)]
    if later:  # a second command must not text the patient a third time
        return f"not resendable: already resent as {later[0].id} ({later[0].state.value})"
    occurrence = 1 + max(r.occurrence for r in siblings)
    pending = Pending(enrollment, program, program.step(step_id), enrollment.cursor[channel])
    pending.message = render_message(deps, channel, pending, occurrence)
    new_id = message_id(eid, step_id, channel, occurrence)
    _, held = recipients.reserve(deps, channel, [pending], now)
    if held:
        whose = "number" if channel == Channel.SMS else "address"
        return f"not sent: the {whose}'s caps allow its next message at {held[0][1].isoformat()}"
    state, reason = send_one(deps, pending, channel, occurrence=occurrence)
    if state is not MessageState.SKIPPED:  # handed to the provider: a new message exists
        detail: dict[str, audit.DetailValue] = {"message_id": mid, "new_message_id": new_id, "state": state.value}
        clinic = enrollment.clinic_id
        audit.record(deps.engine, actor, Action.RESEND, enrollment_id=eid, clinic_id=clinic, detail=detail)
    if state is MessageState.SENT:
        store.drop_from_index(UNKNOWN_INDEX, mid)
        store.drop_from_index(FAILED_INDEX, mid)
        return f"sent {new_id}"
    return f"{state.value} {new_id}: {reason}"
