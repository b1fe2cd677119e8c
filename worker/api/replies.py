"""The clinic's inbox: its patients' replies, newest first, and acknowledging them.

Every route needs the clinic's key and shows only that clinic's replies: another clinic's reply
id answers 404 like one that does not exist. Handlers call `worker.inbox`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import AwareDatetime

from worker.api.auth import ClinicId
from worker.api.context import Ctx
from worker.api.schemas import ERROR_RESPONSES, ErrorOut, RepliesOut, ReplyOut, replies_out, reply_out
from worker.errors import NotFound, ValidationError
from worker.inbox import MAX_PAGE_SIZE, PAGE_SIZE, acknowledge, list_replies

router = APIRouter(prefix="/v1/replies", tags=["replies"], responses=ERROR_RESPONSES)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "No such reply for this clinic"}}


@router.get("", response_model=RepliesOut)
def get_replies(
    cid: ClinicId,
    ctx: Ctx,
    since: Annotated[
        AwareDatetime | None, Query(description="Only replies received at or after this instant (ISO 8601 with offset)")
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=100, description="`next_cursor` of the previous page; omit for the first")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Replies per page")] = PAGE_SIZE,
) -> RepliesOut:
    """The clinic's patients' replies, newest first, a page at a time."""
    try:
        page = list_replies(ctx.engine(), cid, since=since, cursor=cursor, limit=limit)
    except ValidationError as exc:
        detail = [{"loc": ["query", exc.field], "msg": exc.message, "type": "value_error"}]
        raise HTTPException(422, detail) from None
    return replies_out(page)


@router.post("/{rid}/ack", response_model=ReplyOut, responses=NOT_FOUND)
def ack_reply(rid: str, cid: ClinicId, ctx: Ctx) -> ReplyOut:
    """Mark a reply read; acknowledging it again keeps the first time."""
    try:
        return reply_out(acknowledge(ctx.engine(), cid, rid))
    except NotFound:
        raise HTTPException(404, "reply not found") from None
