"""GET /v1/enrollments/{id}/schedule: every past and future message of one of the clinic's
enrollments, with when it was due, when it went or will go, and the rule that moved it
(worker.explain). Another clinic's enrollment answers 404."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from worker.api.auth import ClinicId
from worker.api.context import Ctx
from worker.api.schemas import ERROR_RESPONSES
from worker.explain import explain, schedule_json

router = APIRouter(prefix="/v1/enrollments", tags=["enrollments"], responses=ERROR_RESPONSES)


class ScheduledMessageOut(BaseModel):
    step: str
    channel: str
    occurrence: int
    state: str = Field(description="A message state; `scheduled` (next, in the due index) or `planned` (later)")
    due_at: str | None = Field(description="The program's time for it (UTC), before any rule moved it")
    sent_at: str | None = Field(description="When it was handed to the provider (UTC)")
    planned_at: str | None = Field(description="When it will go (UTC); null when nothing will send it as things stand")
    local_time: str | None = Field(description="sent_at, else planned_at, else due_at, in the patient's zone")
    rule: str | None = Field(
        description="What moved it: null (nothing), quiet_hours, cap, pause, retry, resend, opt_out, cancel, "
        "channel_removed, deadline, unknown"
    )
    reason: str | None
    attempts: int


class ScheduleOut(BaseModel):
    enrollment_id: str
    program: str
    program_version: int = Field(description="The program version the enrollment started on and follows")
    state: str
    timezone: str
    now: str
    messages: list[ScheduledMessageOut]


@router.get("/{eid}/schedule", response_model=ScheduleOut)
def get_schedule(eid: str, cid: ClinicId, ctx: Ctx) -> Any:
    """Every past and future message, in time order, with its due time, local time, state and rule."""
    return schedule_json(explain(ctx.engine(), eid, cid, ctx.caps()))
