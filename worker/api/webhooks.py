"""Twilio's webhooks: message status callbacks and patients' inbound SMS.

Each request must carry a valid `X-Twilio-Signature` computed over `PUBLIC_BASE_URL` + path +
query and the form parameters; anything else answers 403 and changes nothing. The handlers pass
the parameters on to `worker.callbacks` and `worker.replies`, with Twilio's `MessageSid`, so a
replayed request does nothing.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from twilio.request_validator import RequestValidator

from worker.api.context import Ctx
from worker.api.schemas import ErrorOut
from worker.callbacks import handle_status
from worker.contact import inbound_number
from worker.logs import get_logger
from worker.replies import handle_inbound, twiml

log = get_logger("caredrip.api")
router = APIRouter(prefix="/webhooks/twilio", tags=["twilio"])
TWIML = "text/xml"


def form_body(required: list[str], fields: dict[str, str]) -> dict[str, Any]:
    """OpenAPI for a Twilio form post: the fields we read, and any others Twilio adds."""
    properties = {name: {"type": "string", "description": text} for name, text in fields.items()}
    schema = {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": {"type": "string"},
    }
    return {"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": schema}}}}


STATUS_FORM = form_body(
    ["MessageStatus"],
    {
        "MessageSid": "Twilio's id of the message (a replayed 21610 opt-out acts once)",
        "MessageStatus": "queued, sent, delivered, undelivered, failed, ...",
        "ErrorCode": "Twilio's error code when undelivered or failed (21610: the recipient opted out)",
        "To": "The recipient, E.164",
    },
)
INBOUND_FORM = form_body(
    ["From", "Body"],
    {
        "MessageSid": "Twilio's id of the message: a replay of the same id does nothing",
        "From": "The patient's number, E.164",
        "To": "Our number",
        "Body": "The text: STOP, START, HELP, PAUSE and their synonyms act; anything else is kept for the "
        "clinic, and a warning sign is answered at once",
        "NumMedia": "How many pictures or files came with it (noted, never fetched)",
    },
)
FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorOut, "description": "Missing or invalid X-Twilio-Signature"},
}


async def twilio_params(
    request: Request, ctx: Ctx, signature: Annotated[str | None, Header(alias="X-Twilio-Signature")] = None
) -> dict[str, str]:
    """The form parameters of a request Twilio signed; 403 for anything else."""
    params = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    query = request.scope.get("query_string", b"").decode("latin-1")
    url = ctx.base_url() + request.url.path + (f"?{query}" if query else "")
    token = ctx.auth_token()
    if not (signature and token and RequestValidator(token).validate(url, params, signature)):
        log.warning("twilio_signature_rejected", path=request.url.path)
        raise HTTPException(403, "invalid Twilio signature")
    return params


TwilioParams = Annotated[dict[str, str], Depends(twilio_params)]


def _media_count(raw: str) -> int:
    """NumMedia as a count (0 for anything else: the reply is kept all the same)."""
    raw = raw.strip()
    return min(int(raw), 100) if raw.isdigit() and len(raw) <= 3 else 0


def _message_sid(params: dict[str, str]) -> str:
    return params.get("MessageSid") or params.get("SmsSid") or ""


@router.post(
    "/status",
    status_code=204,
    response_class=Response,
    openapi_extra=STATUS_FORM,
    responses={**FORBIDDEN, 400: {"model": ErrorOut, "description": "No message id (m) or status"}},
)
def twilio_status(params: TwilioParams, ctx: Ctx, m: Annotated[str, Query(max_length=200)] = "") -> Response:
    """A message's delivery state changed; the message id is the `m` query parameter."""
    status = params.get("MessageStatus") or params.get("SmsStatus") or ""
    if not m or not status:
        raise HTTPException(400, "a status callback needs the m query parameter and MessageStatus")
    deps = ctx.engine()
    error_code, to = params.get("ErrorCode", ""), params.get("To", "")
    try:
        handle_status(deps, m, status, error_code, to, deps.clock.now(), message_sid=_message_sid(params))
    except ValueError:
        raise HTTPException(400, "m is not a message id") from None
    return Response(status_code=204)


@router.post(
    "/inbound",
    response_class=Response,
    openapi_extra=INBOUND_FORM,
    responses={
        **FORBIDDEN,
        200: {"content": {TWIML: {}}, "description": "TwiML: a reply, or none (also for a replay)"},
        400: {"model": ErrorOut, "description": "No From number"},
    },
)
def twilio_inbound(params: TwilioParams, ctx: Ctx) -> Response:
    """A patient's SMS: STOP/START/HELP/PAUSE and synonyms act at once, answered in the patient's
    language; anything else is kept for the clinic, and a red flag gets the safety text at once."""
    number = inbound_number(params.get("From", ""))
    if len(number) < 4:
        raise HTTPException(400, "an inbound message needs From, a phone number")
    deps = ctx.engine()
    body, sid = params.get("Body", ""), _message_sid(params)
    media = _media_count(params.get("NumMedia", ""))
    outcome = handle_inbound(deps, ctx.clinics(), number, body, deps.clock.now(), message_sid=sid, media=media)
    return Response(twiml(outcome.reply), media_type=TWIML)
