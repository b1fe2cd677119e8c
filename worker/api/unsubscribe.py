"""Email unsubscribe: `GET` and `POST /unsubscribe/{token}`, the link in every email.

The token is signed (`worker.tokens`); a bad one answers 404 with a plain page. GET shows a
confirmation page and never opts out (link scanners prefetch GETs); POST opts the enrollment out
of email through `worker.optouts` and is also the RFC 8058 one-click target. Pages are in
`worker.api.pages`, in the enrollment's language.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from worker.api.context import Ctx
from worker.api.pages import confirm_page, done_page, missing_page
from worker.clinic_events import email_unsubscribed
from worker.enrollment_view import enrollment_for_token
from worker.logs import get_logger
from worker.optouts import unsubscribe_email

log = get_logger("caredrip.api")
router = APIRouter(prefix="/unsubscribe", tags=["unsubscribe"])
HTML_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}},
    404: {"content": {"text/html": {}}, "description": "Invalid link"},
}


@router.get("/{token}", response_class=HTMLResponse, responses=HTML_RESPONSES)
def unsubscribe_page(token: str, ctx: Ctx) -> HTMLResponse:
    """A confirmation page with a button; a GET never opts out (link scanners prefetch GETs)."""
    enrollment = enrollment_for_token(ctx.engine(), token)
    if enrollment is None:
        return HTMLResponse(missing_page(), status_code=404)
    return HTMLResponse(confirm_page(enrollment.language))


@router.post("/{token}", response_class=HTMLResponse, responses=HTML_RESPONSES)
def unsubscribe(token: str, ctx: Ctx) -> HTMLResponse:
    """Opt the enrollment out of email (RFC 8058 one-click target too); repeating it is harmless."""
    deps = ctx.engine()
    enrollment = enrollment_for_token(deps, token)
    if enrollment is None:
        return HTMLResponse(missing_page(), status_code=404)
    unsubscribe_email(deps.store, enrollment.id, deps.clock.now())
    email_unsubscribed(deps, enrollment)
    log.info("email_unsubscribe", enrollment_id=enrollment.id)
    return HTMLResponse(done_page(enrollment.language))
