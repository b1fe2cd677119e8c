"""Red-flag replies: check a patient's text against the program's warning signs, and act on a match.

A flagged reply is kept (red_flag true) before anything else happens, so it is never lost; then
an alert opens for it (worker.alerts), the enrollment it is about is paused for `red_flag`, and the
clinic is told (`alert.raised`, no reply text in it). The webhook answers the patient at once
with the safety text (worker.replies). A reply no clinic can be told of is checked against every
language of the default program and, flagged, opens an alert in the operators' inbox.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from typing import Any

from worker import events
from worker.alerts import raise_alert
from worker.deps import EngineDeps
from worker.enrollment import pause
from worker.errors import ContentError, NotFound
from worker.logs import get_logger
from worker.records import Enrollment, PausedReason
from worker.redflags import RedFlagMatch, red_flags_for
from worker.webhooks.events import EventType

log = get_logger("caredrip.safety")


def default_program(deps: EngineDeps) -> str | None:
    """The program a reply from nobody's number is read with: the first by id."""
    ids = deps.catalog.ids()
    return ids[0] if ids else None


def check_reply(deps: EngineDeps, program: str | None, text: str, language: str) -> RedFlagMatch | None:
    """The red flags in `text` (every language's signs of `program`), or None. Empty text, or a
    program whose red flags cannot be read (logged: `caredrip lint` reports it), is no match."""
    if program is None or not text.strip():
        return None
    try:
        flags = red_flags_for(deps.catalog.content_dir, program)
    except ContentError as exc:
        log.error("red_flags_unreadable", program=program, error=str(exc))
        return None
    return flags.check(text, language)


def act_on_red_flag(
    deps: EngineDeps, reply_id: str, enrollment: Enrollment, received_at: datetime, match: RedFlagMatch
) -> None:
    """A stored reply about `enrollment` matched: open its alert, pause the enrollment for
    `red_flag`, and tell the clinic (`alert.raised`)."""
    raise_alert(deps, reply_id, enrollment.clinic_id, enrollment.id, received_at)
    with suppress(NotFound):  # expired since it was routed to: the alert stands
        pause(deps, enrollment.id, reason=PausedReason.RED_FLAG)
    log.warning("red_flag_reply", reply_id=reply_id, enrollment_id=enrollment.id, signs=list(match.signs))
    events.emit(
        deps, enrollment.clinic_id, EventType.ALERT_RAISED, key=reply_id, at=received_at,
        data=event_data(reply_id, enrollment.id, received_at, patient_ref=enrollment.patient_ref),
    )  # fmt: skip


def act_on_unmatched_red_flag(
    deps: EngineDeps,
    reply_id: str,
    received_at: datetime,
    match: RedFlagMatch,
    *,
    clinic_id: str = "",
    enrollment_id: str = "",
) -> None:
    """A reply about no enrollment caredrip still holds matched: an alert for the operators' inbox,
    or, when the reply went to a clinic whose enrollment has expired since, for that clinic (and
    `alert.raised`: there is nothing left to pause)."""
    raise_alert(deps, reply_id, clinic_id, enrollment_id, received_at)
    log.warning("red_flag_reply", reply_id=reply_id, enrollment_id=enrollment_id or None, signs=list(match.signs))
    if clinic_id:
        data = event_data(reply_id, enrollment_id, received_at)
        events.emit(deps, clinic_id, EventType.ALERT_RAISED, key=reply_id, at=received_at, data=data)


def event_data(
    reply_id: str, enrollment_id: str, received_at: datetime, *, patient_ref: str | None = None, **more: Any
) -> dict[str, Any]:
    """What a clinic's event about a reply carries: ids and time (and the clinic's own patient_ref
    when the enrollment is still held), never the reply's text."""
    ref = {"patient_ref": patient_ref} if patient_ref is not None else {}
    return {"reply_id": reply_id, "enrollment_id": enrollment_id, **ref, "received_at": received_at.isoformat(), **more}
