"""Intake and lifecycle: enroll (idempotent), update, pause, resume, cancel.

Plain functions over an `EngineDeps` (clock, store, catalog, settings); the API, the CLI and
Celery tasks are thin wrappers around them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from worker.deps import EngineDeps
from worker.errors import NotFound
from worker.introductions import intro_needed, next_intro_number, reaches_new_number
from worker.programs import Program
from worker.records import Enrollment, EnrollmentState, EnrollmentUpdate, epoch_s
from worker.schedule import due_at_cursor, first_cursor_after
from worker.tokens import enrollment_id


@dataclass(frozen=True)
class NewEnrollment:
    """A validated enrollment request (see worker.intake for validation)."""

    clinic_id: str
    patient_ref: str
    program: str
    first_name: str
    channels: tuple[str, ...]
    language: str
    timezone: str
    phone: str | None = None
    email: str | None = None
    consent: dict[str, datetime] = field(default_factory=dict)
    start_at: datetime | None = None


def build_enrollment(deps: EngineDeps, new: NewEnrollment, now: datetime) -> Enrollment:
    """The enrollment `new` becomes at `now`: its derived id, fields and first due times (pure)."""
    program = deps.catalog.get(new.program)
    anchor = new.start_at or now
    tz = ZoneInfo(new.timezone)
    consent = ";".join(f"{ch}={epoch_s(at)}" for ch, at in sorted(new.consent.items()))
    return Enrollment(
        id=enrollment_id(deps.secret, new.clinic_id, new.patient_ref, new.program),
        clinic_id=new.clinic_id,
        patient_ref=new.patient_ref,
        program=program.id,
        first_name=new.first_name,
        phone=new.phone,
        email=new.email,
        channels=new.channels,
        language=new.language,
        timezone=new.timezone,
        state=EnrollmentState.ACTIVE,
        anchor=anchor,
        created_at=now,
        consent=consent,
        cursor={ch: 0 for ch in new.channels},
        next_due={ch: due_at_cursor(program, ch, 0, anchor, tz, deps.quiet) for ch in new.channels},
    )


def enroll(deps: EngineDeps, new: NewEnrollment) -> tuple[Enrollment, bool]:
    """Store the enrollment and schedule its first messages; (enrollment, created).

    The id derives from (clinic, patient_ref, program), so the same event again returns the
    stored enrollment unchanged (and repairs its due entries if a crash lost them).
    """
    enrollment = build_enrollment(deps, new, deps.clock.now())
    eid = enrollment.id
    # Create, schedule and note the phone's clinic in one round trip; read only if it existed.
    if deps.store.create_enrollment(enrollment, phone_clinic=new.clinic_id if new.phone else None):
        return enrollment, True
    stored = deps.store.get_enrollment(eid)
    assert stored is not None
    if stored.state is EnrollmentState.ACTIVE:
        deps.store.schedule_all(stored, only_missing=True)
    return stored, False


def get_owned(deps: EngineDeps, eid: str, clinic_id: str | None) -> Enrollment:
    """The enrollment, if it exists and belongs to `clinic_id` (None: any clinic, operators)."""
    enrollment = deps.store.get_enrollment(eid) if eid.isalnum() else None
    if enrollment is None or (clinic_id is not None and enrollment.clinic_id != clinic_id):
        raise NotFound(f"no enrollment {eid}")
    return enrollment


def pause(deps: EngineDeps, eid: str, clinic_id: str | None = None) -> Enrollment:
    """Stop sending until resumed; messages already claimed or queued are held at send time."""
    enrollment = get_owned(deps, eid, clinic_id)
    result = deps.store.lifecycle(eid, "pause", deps.clock.now(), deps.retention_s)
    if result is not None and result.changed:
        deps.store.unschedule(eid, enrollment.channels)
    return get_owned(deps, eid, clinic_id)


def resume(deps: EngineDeps, eid: str, clinic_id: str | None = None) -> Enrollment:
    """Continue where the program stopped; anything that fell due meanwhile is due now."""
    get_owned(deps, eid, clinic_id)
    result = deps.store.lifecycle(eid, "resume", deps.clock.now(), deps.retention_s)
    if result is not None and result.changed:
        deps.store.schedule_all(get_owned(deps, eid, clinic_id))
    return get_owned(deps, eid, clinic_id)


def cancel(deps: EngineDeps, eid: str, clinic_id: str | None = None) -> Enrollment:
    """End the enrollment for good; records are kept for the retention period."""
    enrollment = get_owned(deps, eid, clinic_id)
    result = deps.store.lifecycle(eid, "cancel", deps.clock.now(), deps.retention_s)
    if result is not None and result.changed:
        deps.store.unschedule(eid, enrollment.channels)
    return get_owned(deps, eid, clinic_id)


@dataclass(frozen=True)
class EnrollmentChanges:
    """A validated PATCH: only the fields given change."""

    first_name: str | None = None
    phone: str | None = None
    email: str | None = None
    language: str | None = None
    timezone: str | None = None
    channels: tuple[str, ...] | None = None


def update(deps: EngineDeps, eid: str, changes: EnrollmentChanges, clinic_id: str | None = None) -> Enrollment:
    """Change contact details, language, timezone or channels; due times follow a new timezone,
    and a channel added mid-program starts at its next step still to come."""
    current = get_owned(deps, eid, clinic_id)
    program = deps.catalog.get(current.program)
    now = deps.clock.now()
    updated = replace(
        current,
        first_name=changes.first_name if changes.first_name is not None else current.first_name,
        phone=changes.phone if changes.phone is not None else current.phone,
        email=changes.email if changes.email is not None else current.email,
        language=changes.language or current.language,
        timezone=changes.timezone or current.timezone,
        channels=changes.channels or current.channels,
    )
    tz = ZoneInfo(updated.timezone)
    dropped = tuple(ch for ch in current.channels if ch not in updated.channels)
    # Cursors of channels that stay are never written here: a send finishing concurrently
    # owns them. Their due times move only with the timezone, and only while the cursor is
    # still the one they were computed for (`_retime`, after the write below).
    reschedule: dict[str, datetime | None] = {}
    started: dict[str, int] = {}
    retimes: dict[str, int] = {}
    for ch in updated.channels:
        added = ch not in current.channels
        if not added and updated.timezone == current.timezone:
            continue
        if not added:
            retimes[ch] = current.cursor[ch]
            continue
        started[ch] = first_cursor_after(program, ch, now, updated.anchor, tz)
        reschedule[ch] = due_at_cursor(program, ch, started[ch], updated.anchor, tz, deps.quiet)
    intro = _introduction(deps, program, current, updated, started)
    change = EnrollmentUpdate(
        first_name=updated.first_name,
        phone=updated.phone,
        email=updated.email,
        language=updated.language,
        timezone=updated.timezone,
        channels=updated.channels,
        at=now,
        due=reschedule,
        started=started,
        dropped=dropped,
        intro=intro,
    )
    deps.store.update_enrollment(eid, change)
    reschedule.update(_retime(deps, eid, program, updated, retimes))
    if changes.phone and changes.phone != current.phone:
        deps.store.remember_phone(changes.phone, current.clinic_id)
    deps.store.unschedule(eid, dropped)
    for ch in dropped:  # nothing waiting on a dropped channel stays `retrying`
        deps.store.end_pending(eid, ch, "dropped", now)
    fresh = get_owned(deps, eid, clinic_id)
    if intro is not None:  # the introduction is due now: its channel's entry goes in at once
        reschedule.setdefault("sms", fresh.next_due.get("sms"))
    if fresh.state is EnrollmentState.ACTIVE and reschedule:
        deps.store.unschedule(eid, list(reschedule))
        deps.store.schedule_all(replace(fresh, next_due=reschedule))
    return fresh


RETIME_TRIES = 3


def _retime(
    deps: EngineDeps, eid: str, program: Program, updated: Enrollment, cursors: dict[str, int]
) -> dict[str, datetime | None]:
    """Each channel's next due time in the new timezone, written only while its cursor is the one
    it was computed for (atomically, in Lua): a send that finished meanwhile moved the channel on,
    so the time is computed again from where it is now, never left at the earlier step's time."""
    tz, moved = ZoneInfo(updated.timezone), {}
    for ch, cursor in cursors.items():
        for _ in range(RETIME_TRIES):
            due = due_at_cursor(program, ch, cursor, updated.anchor, tz, deps.quiet)
            answer = deps.store.retime(eid, ch, cursor, due)
            if answer.done:
                moved[ch] = due
            if answer.done or answer.cursor is None:
                break
            cursor = answer.cursor
    return moved


def _introduction(
    deps: EngineDeps, program: Program, current: Enrollment, updated: Enrollment, started: dict[str, int]
) -> int | None:
    """The number of the introduction a change asks for (worker.introductions), if any."""
    if not reaches_new_number(current, updated):
        return None
    records = deps.store.records(current.id)
    if not intro_needed(program, started.get("sms", current.cursor.get("sms", 0)), records):
        return None
    return next_intro_number(current, records)
