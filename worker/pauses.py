"""The patient's own pause: PAUSE / PAUSA stops a number's messages for 7 days, then they resume
by themselves.

PAUSE belongs to the number, as STOP does: it pauses every enrollment of the number that is
running, at every clinic (a patient who asks for quiet asks it of their phone, and cannot know
which clinic's program a text came from), with `paused_reason: "patient"`. Each resumes at the
same instant, 7 days later, from a Redis sorted set that the dispatch tick reads (`resume_due`;
nothing waits in the broker). A second PAUSE moves that instant on. The auto-resume only ends a
patient's pause: an enrollment its clinic paused, or a red-flag reply paused, stays paused (the
reason of a paused enrollment is only ever raised: patient < clinic < red_flag), and a clinic may
resume a patient-paused enrollment before then.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from worker.deps import EngineDeps
from worker.enrollment import pause, resume
from worker.errors import NotFound
from worker.logs import get_logger
from worker.records import Enrollment, EnrollmentState, PausedReason
from worker.routing import blind_index

log = get_logger("caredrip.pauses")

PATIENT_PAUSE = timedelta(days=7)
RESUMES_PER_TICK = 500


@dataclass(frozen=True, slots=True)
class PatientPause:
    """What a PAUSE did: the enrollments paused by the patient now, and when they resume."""

    enrollments: list[Enrollment]
    until: datetime


def number_enrollments(deps: EngineDeps, number: str) -> list[Enrollment]:
    """The number's enrollments that have not ended, at every clinic (those still on that number)."""
    bi = blind_index(deps.index, number)
    if bi is None:
        return []
    noted = sorted(deps.store.number_record(bi).enrollments)
    return [
        e
        for e in deps.store.get_enrollments(noted)
        if e is not None and e.phone == number and e.state in (EnrollmentState.ACTIVE, EnrollmentState.PAUSED)
    ]


def pause_number(deps: EngineDeps, number: str, now: datetime) -> PatientPause:
    """Pause each running enrollment of `number` for PATIENT_PAUSE (a patient's pause again: its
    end moves on); one paused by its clinic or a red flag stays as it is."""
    until = now + PATIENT_PAUSE
    paused: list[Enrollment] = []
    for enrollment in number_enrollments(deps, number):
        if enrollment.state is EnrollmentState.PAUSED and enrollment.paused_reason is not PausedReason.PATIENT:
            continue
        try:
            after = pause(deps, enrollment.id, reason=PausedReason.PATIENT)
        except NotFound:
            continue
        if after.paused_reason is PausedReason.PATIENT:
            deps.store.schedule_patient_resume(after.id, until)
            paused.append(after)
    log.info("patient_pause", enrollments=[e.id for e in paused])
    return PatientPause(paused, until)


def resume_due(deps: EngineDeps, now: datetime, limit: int = RESUMES_PER_TICK) -> int:
    """End the patients' pauses due by `now` (called by each dispatch tick); how many it handled.

    Each resumes only if it is still the patient's pause, and its pending steps are scheduled
    again as a clinic's resume does. An entry leaves only once handled, and only if no later
    PAUSE moved it on."""
    due = deps.store.due_patient_resumes(now, limit)
    for eid, at_ms in due:
        with suppress(NotFound):  # expired meanwhile: nothing to resume
            resume(deps, eid, only=PausedReason.PATIENT)
        deps.store.patient_resume_done(eid, at_ms)
    if due:
        log.info("patient_pauses_ended", enrollments=[eid for eid, _ in due])
    return len(due)
