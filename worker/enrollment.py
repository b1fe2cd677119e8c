"""An enrollment's lifecycle: enroll (idempotent), update, pause, resume, cancel (validation: worker.intake).

Plain functions over an `EngineDeps` (clock, store, catalog, settings); the API, the CLI and
Celery tasks are thin wrappers around them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from worker import audit
from worker.audit import SYSTEM, Action
from worker.deps import EngineDeps
from worker.errors import Conflict, NotFound
from worker.introductions import intro_needed, next_intro_number, reaches_new_number
from worker.programs import Program
from worker.records import Channel, Enrollment, EnrollmentState, EnrollmentUpdate, OptOut, PausedReason
from worker.routing import blind_index
from worker.schedule import due_at_cursor, first_cursor_after
from worker.store import AuditEntry
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
    anchors: dict[str, datetime] = field(default_factory=dict)  # the program's dates (worker.intake checks them)


def build_enrollment(deps: EngineDeps, new: NewEnrollment, now: datetime, generation: int = 0) -> Enrollment:
    """The enrollment `new` becomes at `now` as `generation`: its derived id, fields and first due
    times (pure)."""
    program = deps.catalog.get(new.program)
    anchor = new.start_at or now
    tz = ZoneInfo(new.timezone)
    return Enrollment(
        id=enrollment_id(deps.secret, new.clinic_id, new.patient_ref, new.program, generation),
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
        consent=dict(new.consent),
        cursor={ch: 0 for ch in new.channels},
        next_due={ch: due_at_cursor(program, ch, 0, anchor, tz, deps.quiet, new.anchors) for ch in new.channels},
        generation=generation,
        version=program.version,
        anchors=dict(new.anchors),
    )


ENDED = (EnrollmentState.CANCELED, EnrollmentState.COMPLETED)
OwnOptOuts = tuple[dict[str, OptOut], OptOut | None]  # Store.opt_outs_of: own by channel, the number's SMS
MAX_GENERATIONS = 10_000  # a bound on walking generations, never reached by real use


def enroll(deps: EngineDeps, new: NewEnrollment, *, actor: str = SYSTEM) -> tuple[Enrollment, bool]:
    """Store the enrollment and schedule its first messages; (enrollment, created).

    Ids derive from (clinic, patient_ref, program) and a generation, so the same event again
    returns the stored enrollment unchanged (and repairs its due entries if a crash lost them),
    and concurrent identical events make one enrollment. Once the latest generation has ended
    (canceled or completed), the event starts the next generation: a new enrollment, with a new
    id; the ended ones stay readable until their retention ends. A new patient costs one round
    trip: generation 0's create also reads the pointer to a later generation (enroll.lua).
    A new enrollment is audited as done by `actor` (worker.audit); a repeat, changing nothing, is not.
    """
    enrollment, created, _ = _enroll(deps, new, actor, read_opt_outs=False)
    return enrollment, created


def enroll_reading_opt_outs(
    deps: EngineDeps, new: NewEnrollment, *, actor: str = SYSTEM
) -> tuple[Enrollment, bool, OwnOptOuts | None]:
    """`enroll`, and a new enrollment's opt-outs as `Store.opt_outs_of` answers them, read in its
    create's round trip (POST /v1/enrollments shows them); None when it did not create (the stored
    enrollment's are read on their own)."""
    return _enroll(deps, new, actor, read_opt_outs=True)


def _enroll(
    deps: EngineDeps, new: NewEnrollment, actor: str, *, read_opt_outs: bool
) -> tuple[Enrollment, bool, OwnOptOuts | None]:
    """What `enroll` and `enroll_reading_opt_outs` do; the opt-outs only with `read_opt_outs`."""
    walk = _walk_generations(deps, new, deps.clock.now(), actor, read_opt_outs)
    latest = walk.enrollment
    if latest.generation and latest.generation != walk.pointed:  # the pointer names it from now on
        deps.store.generation_started(walk.passed[0].id, latest.generation)
    for ended in walk.passed:  # their creates' due entries were only a hint: take it back
        deps.store.unschedule(ended.id, ended.channels)
    if walk.created:
        return latest, True, walk.opt_outs
    stored = deps.store.get_enrollment(latest.id)
    assert stored is not None
    if stored.state is EnrollmentState.ACTIVE:
        deps.store.schedule_all(stored, only_missing=True)
    return stored, False, None


@dataclass
class _Walk:
    """Where `_walk_generations` stopped: the live or new generation, whether it created it, the
    generation the pointer named (0: none), the ended generations passed on the way, and the
    opt-outs read with the create (when asked)."""

    enrollment: Enrollment
    created: bool
    pointed: int
    passed: list[Enrollment]
    opt_outs: OwnOptOuts | None = None


def _walk_generations(deps: EngineDeps, new: NewEnrollment, now: datetime, actor: str, read_opt_outs: bool) -> _Walk:
    """Create generation 0, or follow the pointer and step past ended generations until one is
    live or has been created (one round trip a step; the audit entry goes with the create, and is
    taken back when it did not create)."""
    generation, pointed = 0, 0
    passed: list[Enrollment] = []
    for _ in range(MAX_GENERATIONS):
        enrollment = build_enrollment(deps, new, now, generation)
        number = blind_index(deps.index, new.phone) if new.phone else None
        entry = _enrolled(deps, enrollment, actor)
        ttl_s = deps.retention_s
        answer = deps.store.create_enrollment(
            enrollment, number_index=number, ttl_s=ttl_s, audit_entry=entry, read_opt_outs=read_opt_outs
        )
        if answer.later_generation is None and (answer.created or answer.state not in ENDED):
            return _Walk(enrollment, answer.created, pointed, passed, answer.opt_outs)
        passed.append(enrollment)
        if answer.later_generation is not None:
            generation = pointed = answer.later_generation
        else:
            generation += 1
    raise RuntimeError(f"more than {MAX_GENERATIONS} generations of one enrollment")  # pragma: no cover


def _enrolled(deps: EngineDeps, enrollment: Enrollment, actor: str) -> AuditEntry:
    """The audit entry of `enrollment`'s creation (worker.audit)."""
    detail: dict[str, audit.DetailValue] = {"generation": enrollment.generation} if enrollment.generation else {}
    return audit.new_entry(
        deps.clock, actor, Action.ENROLL, enrollment_id=enrollment.id, clinic_id=enrollment.clinic_id, detail=detail
    )


def get_owned(deps: EngineDeps, eid: str, clinic_id: str | None) -> Enrollment:
    """The enrollment, if it exists and belongs to `clinic_id` (None: any clinic, operators)."""
    enrollment = deps.store.get_enrollment(eid) if eid.isalnum() else None
    if enrollment is None or (clinic_id is not None and enrollment.clinic_id != clinic_id):
        raise NotFound(f"no enrollment {eid}")
    return enrollment


def pause(
    deps: EngineDeps,
    eid: str,
    clinic_id: str | None = None,
    *,
    reason: PausedReason = PausedReason.CLINIC,
    actor: str = SYSTEM,
) -> Enrollment:
    """Stop sending until resumed; messages already claimed or queued are held at send time.
    `reason` is kept while paused; pausing a paused enrollment only raises it (patient < clinic <
    red_flag)."""
    enrollment = get_owned(deps, eid, clinic_id)
    result = deps.store.lifecycle(eid, "pause", deps.clock.now(), deps.retention_s, reason=reason.value)
    if result is not None and result.changed:
        deps.store.unschedule(eid, enrollment.channels)
        deps.store.compact_records([eid])  # its records packed into a few fields (worker.store.packed)
        audit.record(deps, actor, Action.PAUSE, enrollment_id=eid, clinic_id=enrollment.clinic_id)
    return get_owned(deps, eid, clinic_id)


def resume(
    deps: EngineDeps, eid: str, clinic_id: str | None = None, *, only: PausedReason | None = None, actor: str = SYSTEM
) -> Enrollment:
    """Continue where the program stopped; anything that fell due meanwhile is due now. With
    `only`, resume only a pause for that reason (the end of a patient's own PAUSE)."""
    enrollment = get_owned(deps, eid, clinic_id)
    reason = only.value if only is not None else ""
    result = deps.store.lifecycle(eid, "resume", deps.clock.now(), deps.retention_s, reason=reason)
    if result is not None and result.changed:
        deps.store.schedule_all(get_owned(deps, eid, clinic_id))
        audit.record(deps, actor, Action.RESUME, enrollment_id=eid, clinic_id=enrollment.clinic_id)
    return get_owned(deps, eid, clinic_id)


def cancel(deps: EngineDeps, eid: str, clinic_id: str | None = None, *, actor: str = SYSTEM) -> Enrollment:
    """End the enrollment for good; records are kept for the retention period."""
    enrollment = get_owned(deps, eid, clinic_id)
    result = deps.store.lifecycle(eid, "cancel", deps.clock.now(), deps.retention_s)
    if result is not None and result.changed:
        deps.store.unschedule(eid, enrollment.channels)
        deps.store.compact_records([eid])  # its records packed into a few fields (worker.store.packed)
        numbers = [blind_index(deps.index, enrollment.phone)] if enrollment.phone else []
        deps.store.park_sends(numbers, deps.clock.now())  # kept only while caps count them
        if enrollment.generation:  # the pointer to this generation now expires with it
            first = enrollment_id(deps.secret, enrollment.clinic_id, enrollment.patient_ref, enrollment.program)
            deps.store.generation_ended(first, enrollment.generation, deps.retention_s)
        audit.record(deps, actor, Action.CANCEL, enrollment_id=eid, clinic_id=enrollment.clinic_id)
    return get_owned(deps, eid, clinic_id)


def refuse_if_ended(enrollment: Enrollment, action: str) -> None:
    """Pause, resume and changes need an enrollment that has not ended (the API answers 409)."""
    if enrollment.state in ENDED:
        raise Conflict(f"cannot {action} an enrollment that is {enrollment.state.value}")


def note_new_number(deps: EngineDeps, current: Enrollment, phone: str) -> None:
    """The enrollment's number changed: replies from the new one may reach its clinic (worker.routing)."""
    new_bi = blind_index(deps.index, phone)
    if new_bi is not None:
        old_bi = blind_index(deps.index, current.phone) if current.phone else None
        deps.store.move_number(old_bi, new_bi, current.id, current.clinic_id, deps.retention_s)


@dataclass(frozen=True)
class EnrollmentChanges:
    """A validated PATCH: only the fields given change."""

    first_name: str | None = None
    phone: str | None = None
    email: str | None = None
    language: str | None = None
    timezone: str | None = None
    channels: tuple[str, ...] | None = None
    consent: dict[str, datetime] | None = None  # channel -> recorded_at of consent the PATCH carries
    anchors: dict[str, datetime] | None = None  # the anchors the PATCH gives (others stay)


def update(
    deps: EngineDeps, eid: str, changes: EnrollmentChanges, clinic_id: str | None = None, *, actor: str = SYSTEM
) -> Enrollment:
    """Change contact details, language, timezone, channels or anchors; due times follow a new
    timezone or anchor (every channel's pending step is retimed; steps already past at the change
    are late for the program's catch-up policy, worker.catchup), and a channel added mid-program
    starts at its next step still to come. Consent given with the change is kept for each channel
    the enrollment then uses (intake.check_patch requires it for a channel added and for a new
    phone number)."""
    current = get_owned(deps, eid, clinic_id)
    program = deps.catalog.get(current.program, current.version)
    now = deps.clock.now()
    updated = replace(
        current,
        first_name=changes.first_name if changes.first_name is not None else current.first_name,
        phone=changes.phone if changes.phone is not None else current.phone,
        email=changes.email if changes.email is not None else current.email,
        language=changes.language or current.language,
        timezone=changes.timezone or current.timezone,
        channels=changes.channels or current.channels,
        anchors={**current.anchors, **(changes.anchors or {})},
    )
    moved_anchors = updated.anchors != current.anchors
    if moved_anchors:
        updated.late_mark = now
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
        if not added and updated.timezone == current.timezone and not moved_anchors:
            continue
        if not added:
            retimes[ch] = current.cursor[ch]
            continue
        started[ch] = first_cursor_after(program, ch, now, updated.anchor, tz, updated.anchors)
        reschedule[ch] = due_at_cursor(program, ch, started[ch], updated.anchor, tz, deps.quiet, updated.anchors)
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
        consent=consent_after(current, updated.channels, changes.consent),
        intro=intro,
        anchors=updated.anchors if moved_anchors else None,
        late_mark=updated.late_mark if moved_anchors else None,
    )
    deps.store.update_enrollment(eid, change)
    reschedule.update(_retime(deps, eid, program, updated, retimes))
    if changes.phone and changes.phone != current.phone:
        note_new_number(deps, current, changes.phone)
    deps.store.unschedule(eid, dropped)
    for ch in dropped:  # nothing waiting on a dropped channel stays `retrying`
        deps.store.end_pending(eid, ch, "dropped", now)
    fresh = get_owned(deps, eid, clinic_id)
    if intro is not None:  # the introduction is due now: its channel's entry goes in at once
        reschedule.setdefault(Channel.SMS, fresh.next_due.get(Channel.SMS))
    if fresh.state is EnrollmentState.ACTIVE and reschedule:
        deps.store.unschedule(eid, list(reschedule))
        deps.store.schedule_all(replace(fresh, next_due=reschedule))
    given = [f.name for f in fields(changes) if getattr(changes, f.name) is not None]
    audit.record(deps, actor, Action.UPDATE, enrollment_id=eid, clinic_id=current.clinic_id, detail={"fields": given})
    return fresh


def consent_after(
    current: Enrollment, channels: tuple[str, ...], given: dict[str, datetime] | None
) -> dict[str, datetime] | None:
    """Every channel's consent once `given` is recorded for the `channels` the enrollment uses
    (earlier records of other channels stay); None when that records nothing new."""
    recorded = {ch: at for ch, at in (given or {}).items() if ch in channels}
    merged = {**current.consent, **recorded}
    return merged if merged != current.consent else None


RETIME_TRIES = 3


def _retime(
    deps: EngineDeps, eid: str, program: Program, updated: Enrollment, cursors: dict[str, int]
) -> dict[str, datetime | None]:
    """Each channel's next due time in the new timezone or from the new anchors, written only while
    its cursor is the one it was computed for (atomically, in Lua): a send that finished meanwhile
    moved the channel on, so the time is computed again from where it is now, never left at the
    earlier step's time."""
    tz, moved = ZoneInfo(updated.timezone), {}
    for ch, cursor in cursors.items():
        for _ in range(RETIME_TRIES):
            due = due_at_cursor(program, ch, cursor, updated.anchor, tz, deps.quiet, updated.anchors)
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
    if not intro_needed(program, started.get(Channel.SMS, current.cursor.get(Channel.SMS, 0)), records):
        return None
    return next_intro_number(current, records)
