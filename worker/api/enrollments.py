"""The clinic's enrollment API: enroll, read, message history, update, pause, resume, cancel.

Every route needs the clinic's key (`worker.api.auth`); each handler calls the engine
(`worker.enrollment`, `worker.intake`, `worker.enrollment_view`) and shapes its answer with
`worker.api.schemas`. Ended enrollments refuse changes with 409 (`worker.enrollment.refuse_if_ended`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool

from worker.api.auth import Actor, ClinicId, Credentials, caller
from worker.api.context import ApiContext, Ctx
from worker.api.schemas import (
    ERROR_RESPONSES,
    EnrollmentBody,
    EnrollmentOut,
    EnrollmentPatch,
    ErrorOut,
    MessagesOut,
    enrollment_out,
    messages_out,
)
from worker.deps import EngineDeps
from worker.enrollment import cancel, get_owned, pause, refuse_if_ended, resume, update
from worker.enrollment_view import enroll_viewed, messages_of, view_of
from worker.intake import check_body, check_patch, to_changes, to_new_enrollment
from worker.logs import get_logger
from worker.records import Enrollment

log = get_logger("caredrip.api")
router = APIRouter(prefix="/v1/enrollments", tags=["enrollments"], responses=ERROR_RESPONSES)

CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "Not possible in the enrollment's state"},
}


def _out(deps: EngineDeps, enrollment: Enrollment) -> EnrollmentOut:
    return enrollment_out(view_of(deps, enrollment))


@router.post(
    "",
    status_code=201,
    response_model=EnrollmentOut,
    responses={200: {"model": EnrollmentOut, "description": "The same (clinic, patient_ref, program) again"}},
)
async def create_enrollment(
    body: EnrollmentBody, response: Response, credentials: Credentials, ctx: Ctx
) -> EnrollmentOut:
    """Enroll a patient; the same (clinic, patient_ref, program) again answers 200 with the same enrollment."""
    out, created = await run_in_threadpool(_create, ctx, body, credentials)
    response.status_code = 201 if created else 200
    return out


def _create(
    ctx: ApiContext, body: EnrollmentBody, credentials: HTTPAuthorizationCredentials | None
) -> tuple[EnrollmentOut, bool]:
    """The work of POST /v1/enrollments, the clinic key's lookup first (Redis round trips: on a
    thread), in one hop from the event loop: the ClinicId dependency and a sync handler would cost
    one hop each, and one more for the response's validation."""
    cid, actor = caller(ctx, credentials)
    deps = ctx.engine()
    check_body(deps, body)
    view, created = enroll_viewed(deps, to_new_enrollment(cid, body), actor=actor)
    log.info("enrollment", enrollment_id=view.enrollment.id, clinic_id=cid, created=created)
    return enrollment_out(view), created


@router.get("/{eid}", response_model=EnrollmentOut)
def get_enrollment(eid: str, cid: ClinicId, ctx: Ctx) -> EnrollmentOut:
    """State, consent and opt-outs per channel, pause reason, next message time."""
    deps = ctx.engine()
    return _out(deps, get_owned(deps, eid, cid))


@router.get("/{eid}/messages", response_model=MessagesOut)
def get_messages(eid: str, cid: ClinicId, ctx: Ctx) -> MessagesOut:
    return messages_out(eid, messages_of(ctx.engine(), eid, cid))


@router.patch("/{eid}", response_model=EnrollmentOut, responses=CONFLICT)
def patch_enrollment(eid: str, patch: EnrollmentPatch, cid: ClinicId, actor: Actor, ctx: Ctx) -> EnrollmentOut:
    """Change contact details, language, timezone or channels; only the fields given change."""
    deps = ctx.engine()
    current = get_owned(deps, eid, cid)
    refuse_if_ended(current, "update")
    check_patch(deps, current, patch)
    return _out(deps, update(deps, eid, to_changes(patch), cid, actor=actor))


@router.post("/{eid}/pause", response_model=EnrollmentOut, responses=CONFLICT)
def pause_enrollment(eid: str, cid: ClinicId, actor: Actor, ctx: Ctx) -> EnrollmentOut:
    """Stop sending until resumed (pausing a paused enrollment changes nothing)."""
    deps = ctx.engine()
    refuse_if_ended(get_owned(deps, eid, cid), "pause")
    return _out(deps, pause(deps, eid, cid, actor=actor))


@router.post("/{eid}/resume", response_model=EnrollmentOut, responses=CONFLICT)
def resume_enrollment(eid: str, cid: ClinicId, actor: Actor, ctx: Ctx) -> EnrollmentOut:
    """Continue a paused enrollment; what fell due meanwhile is due now."""
    deps = ctx.engine()
    refuse_if_ended(get_owned(deps, eid, cid), "resume")
    return _out(deps, resume(deps, eid, cid, actor=actor))


@router.post("/{eid}/cancel", response_model=EnrollmentOut)
def cancel_enrollment(eid: str, cid: ClinicId, actor: Actor, ctx: Ctx) -> EnrollmentOut:
    """End the enrollment for good (an ended one stays as it is)."""
    deps = ctx.engine()
    return _out(deps, cancel(deps, eid, cid, actor=actor))
