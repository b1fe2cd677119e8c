"""What each occurrence on the send and opt-out paths tells the clinic (through `worker.events.emit`).

- `enrollment.opted_out`: an SMS STOP or the provider's 21610 opts a number out, and every
  enrollment noted for that number (its recipient record: enrollment id -> clinic) is told to its
  own clinic; an email unsubscribe tells the enrollment's clinic. Key: enrollment, channel and the
  stored opt-out's time, so a second STOP (the first opt-out's time is kept) is the same event.
- `enrollment.completed`: the enrollment's last message is done. Key: the enrollment id.
- `message.failed`: a message ended `failed` (or `undelivered`, by a status callback). Key: the
  message id.

Data carries ids, states, codes and times only. These functions never raise: an event that could
not be stored is logged and counted (`worker.events`), and the path it happened on goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from worker.deps import EngineDeps
from worker.events import emit, failed
from worker.records import Channel, Enrollment, MessageState, OptOut, OptOutSource
from worker.webhooks.events import EventType


@contextmanager
def _never_raises(deps: EngineDeps, what: str, **ids: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:  # an event must never fail the send path or an opt-out
        failed(deps, what, exc, **ids)


def number_opted_out(deps: EngineDeps, number: str) -> None:
    """The number's SMS opt-out was recorded (STOP, or the provider's 21610): tell the clinic of
    each enrollment noted for the number."""
    with _never_raises(deps, "event_opted_out_failed"):
        stored = deps.store.sms_opt_outs([number])[0]
        if stored is None:
            return
        noted = deps.store.number_record(deps.index.blind_index(number)).enrollments
        eids = sorted(noted)
        for enrollment in deps.store.get_enrollments(eids):
            if enrollment is not None:
                _opted_out(deps, enrollment, Channel.SMS, stored)


def email_unsubscribed(deps: EngineDeps, enrollment: Enrollment) -> None:
    """The enrollment's email unsubscribe link was used: tell its clinic."""
    with _never_raises(deps, "event_opted_out_failed", enrollment_id=enrollment.id):
        stored = deps.store.channel_opt_outs(enrollment.id, [Channel.EMAIL]).get(Channel.EMAIL)
        if stored is not None:
            _opted_out(deps, enrollment, Channel.EMAIL, stored)


def _opted_out(deps: EngineDeps, enrollment: Enrollment, channel: Channel, stored: OptOut) -> None:
    at = stored.at or deps.clock.now()
    source = stored.source or (OptOutSource.UNSUBSCRIBE if channel is Channel.EMAIL else OptOutSource.STOP)
    data = {
        "enrollment_id": enrollment.id,
        "patient_ref": enrollment.patient_ref,
        "program": enrollment.program,
        "channel": channel.value,
        "source": source.value,
        "opted_out_at": at.isoformat(),
    }
    key = f"{enrollment.id}:{channel.value}:{int(at.timestamp())}"
    emit(deps, enrollment.clinic_id, EventType.ENROLLMENT_OPTED_OUT, key=key, at=at, data=data)


def enrollment_completed(deps: EngineDeps, enrollment: Enrollment, at: datetime) -> None:
    """The enrollment's last message is done: it is `completed`."""
    with _never_raises(deps, "event_completed_failed", enrollment_id=enrollment.id):
        data = {
            "enrollment_id": enrollment.id,
            "patient_ref": enrollment.patient_ref,
            "program": enrollment.program,
            "state": "completed",
            "completed_at": at.isoformat(),
        }
        emit(deps, enrollment.clinic_id, EventType.ENROLLMENT_COMPLETED, key=enrollment.id, at=at, data=data)


def message_failed(
    deps: EngineDeps, enrollment: Enrollment, mid: str, channel: str, state: MessageState, reason: str, at: datetime
) -> None:
    """Message `mid` ended `failed` (or `undelivered`): `reason` is the provider's code, never text."""
    with _never_raises(deps, "event_failed_failed", message_id=mid):
        _step = mid.split(".")[1] if mid.count(".") == 3 else ""
        data = {
            "message_id": mid,
            "enrollment_id": enrollment.id,
            "patient_ref": enrollment.patient_ref,
            "program": enrollment.program,
            "step": _step,
            "channel": channel,
            "state": state.value,
            "reason": reason.removeprefix("optout:") or None,
            "failed_at": at.isoformat(),
        }
        emit(deps, enrollment.clinic_id, EventType.MESSAGE_FAILED, key=mid, at=at, data=data)
