"""What a clinic sees of one enrollment: its state and the evidence and reasons behind it.

Read-only functions over `EngineDeps` (the API's enrollment and unsubscribe handlers call them;
they never touch the store themselves): each channel's consent with when it was recorded, each
channel's opt-out with when and by which source, why a paused enrollment is paused, when the next
message is due (never on a channel opted out), and the message history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from worker.deps import EngineDeps
from worker.enrollment import NewEnrollment, enroll_reading_opt_outs, get_owned
from worker.optouts import OptOut, enrollment_opt_outs, opt_outs_by_channel
from worker.records import Enrollment, EnrollmentState, MessageRecord, PausedReason
from worker.tokens import verify_unsubscribe_token


@dataclass(frozen=True, slots=True)
class EnrollmentView:
    """One enrollment with what the clinic is shown beside its own fields."""

    enrollment: Enrollment
    consent: dict[str, datetime]
    opt_outs: dict[str, OptOut | None]
    paused_reason: PausedReason | None
    next_message_at: datetime | None


def view_of(deps: EngineDeps, enrollment: Enrollment) -> EnrollmentView:
    """`enrollment` with its consent, opt-outs, pause reason and next message time."""
    return _view(enrollment, enrollment_opt_outs(deps.store, enrollment))


def enroll_viewed(deps: EngineDeps, new: NewEnrollment, *, actor: str) -> tuple[EnrollmentView, bool]:
    """`enroll` (worker.enrollment) and the view of the enrollment it answers; (view, created). A
    new enrollment's opt-outs are read in its create's round trip, a stored one's after it."""
    enrollment, created, read = enroll_reading_opt_outs(deps, new, actor=actor)
    if read is None:
        return view_of(deps, enrollment), created
    return _view(enrollment, opt_outs_by_channel(*read)), created


def _view(enrollment: Enrollment, opt_outs: dict[str, OptOut | None]) -> EnrollmentView:
    return EnrollmentView(
        enrollment=enrollment,
        consent=consent_of(enrollment),
        opt_outs=opt_outs,
        paused_reason=paused_reason(enrollment),
        next_message_at=next_message_at(enrollment, opt_outs),
    )


def consent_of(enrollment: Enrollment) -> dict[str, datetime]:
    """Each consented channel -> when the clinic recorded the consent (a channel without none)."""
    return dict(enrollment.consent)


def paused_reason(enrollment: Enrollment) -> PausedReason | None:
    """Why a paused enrollment is paused (the clinic, a red-flag reply, the patient's PAUSE); None
    unless paused."""
    if enrollment.state is not EnrollmentState.PAUSED:
        return None
    return enrollment.paused_reason or PausedReason.CLINIC


def next_message_at(enrollment: Enrollment, opt_outs: dict[str, OptOut | None]) -> datetime | None:
    """The earliest next message among the channels still sent to; None when nothing will go."""
    if enrollment.state is not EnrollmentState.ACTIVE:
        return None
    dues = [
        due
        for ch, due in enrollment.next_due.items()
        if due is not None and not enrollment.opted_out.get(ch) and opt_outs.get(ch) is None
    ]
    return min(dues, default=None)


def messages_of(deps: EngineDeps, eid: str, clinic_id: str | None) -> list[MessageRecord]:
    """The enrollment's message records, oldest first; NotFound unless it belongs to `clinic_id`."""
    get_owned(deps, eid, clinic_id)
    return deps.store.records(eid)


def enrollment_for_token(deps: EngineDeps, token: str) -> Enrollment | None:
    """The enrollment a valid unsubscribe token names, or None (bad signature, or gone)."""
    eid = verify_unsubscribe_token(deps.secret, token)
    return deps.store.get_enrollment(eid) if eid and eid.isalnum() else None
