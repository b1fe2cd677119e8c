"""`DELETE /v1/enrollments/{id}?erase=true`: a clinic erases its own patient (worker.erasure).

Without `erase=true` it answers 400 naming `erase`: DELETE only ever means erasure, so it has to
be asked for. Another clinic's enrollment answers 404; erasing again answers 200, removing nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from worker.api.auth import Actor, ClinicId
from worker.api.context import Ctx
from worker.api.schemas import ERROR_RESPONSES, ValidationErrorOut
from worker.erasure import erase_enrollment
from worker.logs import get_logger

log = get_logger("caredrip.api")
router = APIRouter(prefix="/v1/enrollments", tags=["enrollments"], responses=ERROR_RESPONSES)
NOT_ASKED: dict[int | str, dict[str, Any]] = {
    400: {"model": ValidationErrorOut, "description": "`erase=true` missing: DELETE erases, and must say so"},
}


class ErasedOut(BaseModel):
    """What the erasure removed, by kind (0 everywhere when there was nothing left to remove)."""

    id: str
    erased: dict[str, int] = Field(
        description="`enrollments` (name, patient ref and contacts deleted), `canceled`, `replies`, "
        "`records` (the number's and email addresses' records), `notes` (this clinic's notes on a "
        "number another clinic still has)"
    )


@router.delete("/{eid}", response_model=ErasedOut, responses=NOT_ASKED)
def delete_enrollment(
    eid: str,
    cid: ClinicId,
    actor: Actor,
    ctx: Ctx,
    erase: Annotated[str | None, Query(max_length=10, description="Must be `true`: erase the patient's data")] = None,
) -> Any:
    """Erase the patient of this enrollment from the clinic's data: each of the clinic's enrollments
    of the number (canceled, then without name, patient ref or contacts), the replies it received
    from the number, and the clinic's claim on it. The SMS opt-out is kept."""
    if (erase or "").lower() != "true":
        msg = "DELETE erases the patient's data and must say so: pass ?erase=true"
        detail = [{"loc": ["query", "erase"], "msg": msg, "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=400)
    result = erase_enrollment(ctx.engine(), eid, cid, actor=actor)
    log.info("erased", enrollment_id=eid, clinic_id=cid, **result.counts())
    return ErasedOut(id=eid, erased=result.counts())
