"""POST /v1/enrollments/bulk: many enrollments from one CSV or JSON lines body (worker.bulk_intake).

The clinic is the key's. The answer is 200 with a report whenever the file could be read, rows
rejected or not: `created`, `existing` (already enrolled, unchanged) and every rejected row
(`row`, `field`, `reason`); the valid rows are stored even when others are rejected. A body over
BULK_MAX_BYTES or a file of more than 100,000 rows answers 413 and stores nothing; a CSV header
missing a required column or naming an unknown one answers 422 naming `columns`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from worker.api.auth import Actor, ClinicId
from worker.api.context import Ctx
from worker.api.schemas import ERROR_RESPONSES, ErrorOut
from worker.bulk_intake import BulkReport, Source, bulk_enroll
from worker.bulk_rows import MAX_ROWS, Format, TooManyRows, read_rows
from worker.deps import EngineDeps
from worker.errors import ValidationError
from worker.logs import get_logger

log = get_logger("caredrip.api")
router = APIRouter(prefix="/v1/enrollments", tags=["enrollments"], responses=ERROR_RESPONSES)

BULK_PATH = "/v1/enrollments/bulk"
BULK_MAX_BYTES = 64 * 1024 * 1024  # 100,000 rows of about 650 bytes each
MEDIA_TYPES: dict[str, Format] = {"text/csv": "csv", "application/x-ndjson": "ndjson", "application/jsonl": "ndjson"}
_BODY = {
    "required": True,
    "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/x-ndjson": {"schema": {"type": "string"}},
    },
}


class RejectedOut(BaseModel):
    row: int = Field(description="The row's number: CSV records from 1 after the header; JSON lines: the line")
    field: str = Field(description="The field at fault, as POST /v1/enrollments names it")
    reason: str


class BulkOut(BaseModel):
    """What the bulk intake did with each row (a dry run: what it would do; nothing is stored)."""

    rows: int
    created: int
    existing: int = Field(description="Rows already enrolled (the same clinic, patient_ref and program): unchanged")
    rejected: list[RejectedOut]
    dry_run: bool


RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorOut, "description": f"Body over {BULK_MAX_BYTES} bytes, or more than {MAX_ROWS:,} rows"},
    415: {"model": ErrorOut, "description": "Content-Type neither text/csv nor application/x-ndjson"},
}


@router.post("/bulk", response_model=BulkOut, responses=RESPONSES, openapi_extra={"requestBody": _BODY})
async def bulk_enrollments(request: Request, cid: ClinicId, actor: Actor, ctx: Ctx, dry_run: bool = False) -> Any:
    """Enroll every row of a CSV (`text/csv`) or JSON lines (`application/x-ndjson`) body, each
    validated as POST /v1/enrollments validates one; `?dry_run=true` stores nothing."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fmt = MEDIA_TYPES.get(media)
    if fmt is None:
        return JSONResponse({"detail": "Content-Type must be text/csv or application/x-ndjson"}, status_code=415)
    try:
        text = (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("body", "not UTF-8 text") from None
    try:
        report = await run_in_threadpool(_enroll, ctx.engine(), text, fmt, Source(cid, actor=actor), dry_run)
    except TooManyRows as exc:
        return JSONResponse({"detail": exc.message}, status_code=413)
    log.info("bulk intake", clinic_id=cid, rows=report.rows, created=report.created, existing=report.existing,
             rejected=len(report.rejected), dry_run=dry_run)  # fmt: skip
    return bulk_out(report)


def _enroll(deps: EngineDeps, text: str, fmt: Format, source: Source, dry_run: bool) -> BulkReport:
    _, rows = read_rows(text, fmt)
    return bulk_enroll(deps, rows, source, dry_run=dry_run)


def bulk_out(report: BulkReport) -> BulkOut:
    return BulkOut.model_validate(report.as_json())
