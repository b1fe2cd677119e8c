"""The clinic's audit trail: `GET /v1/audit`, its own entries only, newest first (worker.audit)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from worker.api.auth import ClinicId
from worker.api.context import Ctx
from worker.api.schemas import ERROR_RESPONSES, Timestamp
from worker.audit import MAX_PAGE_SIZE, PAGE_SIZE, page
from worker.errors import ValidationError
from worker.store import AuditEntry

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=ERROR_RESPONSES)


class AuditEntryOut(BaseModel):
    """One change to the clinic's data: who, what, when, which enrollment."""

    id: str = Field(description="Opaque, in time order")
    at: Timestamp
    actor: str = Field(description="`clinic:<id> key:<key id>`, `clinic:<id> via intake`, `operator:cli` or `system`")
    action: str = Field(description="enroll, update, pause, resume, cancel, resend, key_add, key_revoke, erase, …")
    enrollment_id: str | None = Field(description="The enrollment it was about; null for the clinic's keys")
    detail: dict[str, Any] = Field(description="Names and counts (a PATCH's field names, never their values)")


class AuditOut(BaseModel):
    """One page of the clinic's audit trail, newest first."""

    entries: list[AuditEntryOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page")


def entry_out(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        id=entry.id,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        enrollment_id=entry.enrollment_id or None,
        detail=entry.detail,
    )


@router.get("", response_model=AuditOut)
def get_audit(
    cid: ClinicId,
    ctx: Ctx,
    enrollment_id: Annotated[str | None, Query(max_length=64, description="Only this enrollment's entries")] = None,
    cursor: Annotated[
        str | None, Query(max_length=100, description="`next_cursor` of the previous page; omit for the first")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Entries per page")] = PAGE_SIZE,
) -> AuditOut:
    """Who changed the clinic's enrollments and keys, and when, newest first, a page at a time.
    Filtered by enrollment, a page may hold fewer than `limit` entries: follow `next_cursor`."""
    try:
        found = page(ctx.engine(), cid, enrollment_id=enrollment_id, cursor=cursor, limit=limit)
    except ValidationError as exc:
        detail = [{"loc": ["query", exc.field], "msg": exc.message, "type": "value_error"}]
        raise HTTPException(422, detail) from None
    return AuditOut(entries=[entry_out(e) for e in found.entries], next_cursor=found.next_cursor)
