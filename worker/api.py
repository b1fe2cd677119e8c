"""The HTTP API (FastAPI): enrollments for clinics, Twilio webhooks, email unsubscribe, health, metrics.

Handlers are thin: they authenticate, parse, and call `worker.enrollment`, `worker.intake` and
`worker.replies`. `create_app()` takes the deps tests build; without them each request asks
`worker.wiring`, so `app = create_app()` (for `uvicorn worker.api:app`) connects to nothing at import.

- Clinics authenticate with `Authorization: Bearer <key>`; another clinic's enrollment answers
  404 exactly like a missing one.
- Twilio webhooks must carry a valid `X-Twilio-Signature` for `PUBLIC_BASE_URL` + path + query.
- Bodies over 64 KiB are refused (413) before anything reads them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator

from worker import logs, wiring
from worker.api_models import (
    ERROR_RESPONSES,
    EnrollmentOut,
    ErrorOut,
    Health,
    MessagesOut,
    enrollment_out,
    messages_out,
)
from worker.api_support import BodyLimit, field_error
from worker.clinics import authenticate
from worker.contact import inbound_number
from worker.deps import EngineDeps
from worker.enrollment import cancel, enroll, get_owned, pause, resume, update
from worker.errors import NotFound, ValidationError
from worker.intake import (
    EnrollmentBody,
    EnrollmentPatch,
    check_body,
    check_patch,
    to_changes,
    to_new_enrollment,
)
from worker.logs import get_logger
from worker.metrics import make_registry, render
from worker.pages import confirm_page, done_page, missing_page
from worker.records import Enrollment, EnrollmentState
from worker.replies import handle_inbound, handle_status, twiml
from worker.store import ClinicStore
from worker.tokens import verify_unsubscribe_token

log = get_logger("caredrip.api")
TWIML = "text/xml"


# -- context: the deps, given or from wiring ----------------------------------------------------
@dataclass(frozen=True)
class ApiContext:
    """What handlers need; a None field is asked of `worker.wiring` at request time."""

    engine_deps: EngineDeps | None = None
    clinic_store: ClinicStore | None = None
    public_base_url: str | None = None
    twilio_auth_token: str | None = None

    def engine(self) -> EngineDeps:
        return self.engine_deps or wiring.engine_deps()

    def clinics(self) -> ClinicStore:
        return self.clinic_store or wiring.clinics()

    def base_url(self) -> str:
        return (self.public_base_url or wiring.settings().public_base_url).rstrip("/")

    def auth_token(self) -> str:
        token = self.twilio_auth_token if self.twilio_auth_token is not None else wiring.settings().twilio_auth_token
        return token or ""


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ApiContext, Depends(context)]
bearer = HTTPBearer(auto_error=False, description="The clinic's API key: `Authorization: Bearer <key>`")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def clinic_id(ctx: Ctx, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
    """The authenticated clinic's id; 401 for a missing, unknown or revoked key."""
    if credentials is None:
        raise _unauthorized("missing clinic key: send Authorization: Bearer <key>")
    cid = authenticate(ctx.clinics(), credentials.credentials)
    if cid is None:
        raise _unauthorized("unknown or revoked clinic key")
    return cid


ClinicId = Annotated[str, Depends(clinic_id)]


# -- enrollments --------------------------------------------------------------------------------
enrollments = APIRouter(prefix="/v1/enrollments", tags=["enrollments"], responses=ERROR_RESPONSES)


def _out(deps: EngineDeps, enrollment: Enrollment) -> EnrollmentOut:
    opted = bool(enrollment.phone) and deps.store.sms_opted_out([enrollment.phone or ""])[0]
    return enrollment_out(enrollment, sms_opted_out=opted)


@enrollments.post(
    "",
    status_code=201,
    response_model=EnrollmentOut,
    responses={200: {"model": EnrollmentOut, "description": "The same (clinic, patient_ref, program) again"}},
)
def create_enrollment(body: EnrollmentBody, response: Response, cid: ClinicId, ctx: Ctx) -> EnrollmentOut:
    """Enroll a patient; the same (clinic, patient_ref, program) again answers 200 with the same enrollment."""
    deps = ctx.engine()
    check_body(deps, body)
    enrollment, created = enroll(deps, to_new_enrollment(cid, body))
    response.status_code = 201 if created else 200
    log.info("enrollment", enrollment_id=enrollment.id, clinic_id=cid, created=created)
    return _out(deps, enrollment)


@enrollments.get("/{eid}", response_model=EnrollmentOut)
def get_enrollment(eid: str, cid: ClinicId, ctx: Ctx) -> EnrollmentOut:
    deps = ctx.engine()
    return _out(deps, get_owned(deps, eid, cid))


@enrollments.get("/{eid}/messages", response_model=MessagesOut)
def get_messages(eid: str, cid: ClinicId, ctx: Ctx) -> MessagesOut:
    deps = ctx.engine()
    get_owned(deps, eid, cid)
    return messages_out(eid, deps.store.records(eid))


ENDED = (EnrollmentState.CANCELED, EnrollmentState.COMPLETED)
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "Not possible in the enrollment's state"},
}


def _refuse_if(enrollment: Enrollment, states: tuple[EnrollmentState, ...], action: str) -> None:
    if enrollment.state in states:
        raise HTTPException(409, f"cannot {action} an enrollment that is {enrollment.state.value}")


@enrollments.patch("/{eid}", response_model=EnrollmentOut, responses=CONFLICT)
def patch_enrollment(eid: str, patch: EnrollmentPatch, cid: ClinicId, ctx: Ctx) -> EnrollmentOut:
    """Change contact details, language, timezone or channels; only the fields given change."""
    deps = ctx.engine()
    current = get_owned(deps, eid, cid)
    _refuse_if(current, ENDED, "update")
    check_patch(deps, current, patch)
    return _out(deps, update(deps, eid, to_changes(patch), cid))


@enrollments.post("/{eid}/pause", response_model=EnrollmentOut, responses=CONFLICT)
def pause_enrollment(eid: str, cid: ClinicId, ctx: Ctx) -> EnrollmentOut:
    """Stop sending until resumed (pausing a paused enrollment changes nothing)."""
    deps = ctx.engine()
    _refuse_if(get_owned(deps, eid, cid), ENDED, "pause")
    return _out(deps, pause(deps, eid, cid))


@enrollments.post("/{eid}/resume", response_model=EnrollmentOut, responses=CONFLICT)
def resume_enrollment(eid: str, cid: ClinicId, ctx: Ctx) -> EnrollmentOut:
    """Continue a paused enrollment; what fell due meanwhile is due now."""
    deps = ctx.engine()
    _refuse_if(get_owned(deps, eid, cid), ENDED, "resume")
    return _out(deps, resume(deps, eid, cid))


@enrollments.post("/{eid}/cancel", response_model=EnrollmentOut)
def cancel_enrollment(eid: str, cid: ClinicId, ctx: Ctx) -> EnrollmentOut:
    """End the enrollment for good (an ended one stays as it is)."""
    deps = ctx.engine()
    return _out(deps, cancel(deps, eid, cid))


# -- Twilio webhooks ----------------------------------------------------------------------------
webhooks = APIRouter(prefix="/webhooks/twilio", tags=["twilio"])


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
        "MessageStatus": "queued, sent, delivered, undelivered, failed, ...",
        "ErrorCode": "Twilio's error code when undelivered or failed (21610: the recipient opted out)",
        "To": "The recipient, E.164",
    },
)
INBOUND_FORM = form_body(
    ["From", "Body"],
    {
        "From": "The patient's number, E.164",
        "To": "Our number",
        "Body": "The text: STOP, START, HELP and their synonyms act; anything else is kept for the clinic",
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


@webhooks.post(
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
    try:
        handle_status(deps.store, m, status, params.get("ErrorCode", ""), params.get("To", ""), deps.clock.now())
    except ValueError:
        raise HTTPException(400, "m is not a message id") from None
    return Response(status_code=204)


@webhooks.post(
    "/inbound",
    response_class=Response,
    openapi_extra=INBOUND_FORM,
    responses={
        **FORBIDDEN,
        200: {"content": {TWIML: {}}, "description": "TwiML: a reply, or none"},
        400: {"model": ErrorOut, "description": "No From number"},
    },
)
def twilio_inbound(params: TwilioParams, ctx: Ctx) -> Response:
    """A patient's SMS: STOP/START/HELP and synonyms act at once; anything else is kept for the clinic."""
    number = inbound_number(params.get("From", ""))
    if len(number) < 4:
        raise HTTPException(400, "an inbound message needs From, a phone number")
    deps = ctx.engine()
    outcome = handle_inbound(deps.store, ctx.clinics(), number, params.get("Body", ""), deps.clock.now())
    return Response(twiml(outcome.reply), media_type=TWIML)


# -- email unsubscribe ---------------------------------------------------------------------------
pages = APIRouter(prefix="/unsubscribe", tags=["unsubscribe"])
HTML_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}},
    404: {"content": {"text/html": {}}, "description": "Invalid link"},
}


def _token_enrollment(ctx: ApiContext, token: str) -> Enrollment | None:
    deps = ctx.engine()
    eid = verify_unsubscribe_token(deps.secret, token)
    return deps.store.get_enrollment(eid) if eid and eid.isalnum() else None


@pages.get("/{token}", response_class=HTMLResponse, responses=HTML_RESPONSES)
def unsubscribe_page(token: str, ctx: Ctx) -> HTMLResponse:
    """A confirmation page with a button; a GET never opts out (link scanners prefetch GETs)."""
    enrollment = _token_enrollment(ctx, token)
    if enrollment is None:
        return HTMLResponse(missing_page(), status_code=404)
    return HTMLResponse(confirm_page(enrollment.language))


@pages.post("/{token}", response_class=HTMLResponse, responses=HTML_RESPONSES)
def unsubscribe(token: str, ctx: Ctx) -> HTMLResponse:
    """Opt the enrollment out of email (RFC 8058 one-click target too); repeating it is harmless."""
    enrollment = _token_enrollment(ctx, token)
    if enrollment is None:
        return HTMLResponse(missing_page(), status_code=404)
    ctx.engine().store.set_channel_opt_out(enrollment.id, "email", True)
    log.info("email_unsubscribe", enrollment_id=enrollment.id)
    return HTMLResponse(done_page(enrollment.language))


# -- health and metrics --------------------------------------------------------------------------
ops = APIRouter(tags=["operations"])


@ops.get("/healthz", response_model=Health, responses={503: {"model": Health, "description": "Redis unreachable"}})
def healthz(ctx: Ctx) -> JSONResponse:
    try:
        reachable = ctx.engine().store.ping()
    except Exception as exc:  # any failure to reach Redis (or to set up the connection) is "unavailable"
        log.warning("healthz_failed", error=type(exc).__name__)
        reachable = False
    health = Health(status="ok" if reachable else "unavailable", redis=reachable)
    return JSONResponse(health.model_dump(), status_code=200 if reachable else 503)


@ops.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(request: Request) -> Response:
    """Prometheus text: messages by state, channel and program; due backlog; oldest overdue age."""
    try:
        body = render(request.app.state.registry)
    except Exception as exc:
        log.warning("metrics_failed", error=type(exc).__name__)
        return Response("redis unavailable\n", status_code=503, media_type="text/plain")
    return Response(body, media_type=CONTENT_TYPE_LATEST)


# -- errors --------------------------------------------------------------------------------------
def _key_ok(ctx: ApiContext, request: Request) -> bool:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and authenticate(ctx.clinics(), key.strip()) is not None


async def on_request_validation(request: Request, exc: Exception) -> Response:
    """422 with field errors; an unauthenticated /v1 request learns nothing but 401."""
    assert isinstance(exc, RequestValidationError)
    if request.url.path.startswith("/v1/") and not await run_in_threadpool(_key_ok, context(request), request):
        detail = "missing, unknown or revoked clinic key"
        return JSONResponse({"detail": detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
    return JSONResponse({"detail": [field_error(e) for e in exc.errors()]}, status_code=422)


async def on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    detail = [{"loc": ["body", *exc.field.split(".")], "msg": exc.message, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


async def on_not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": "enrollment not found"}, status_code=404)


# -- the app -------------------------------------------------------------------------------------
@asynccontextmanager
async def _configure_logs(_: FastAPI) -> AsyncIterator[None]:
    """JSON log lines from the API process too (no PHI: see worker.logs)."""
    logs.configure()
    yield


def create_app(
    engine: EngineDeps | None = None,
    clinics: ClinicStore | None = None,
    *,
    public_base_url: str | None = None,
    twilio_auth_token: str | None = None,
) -> FastAPI:
    """The API over the given deps; each one left None comes from `worker.wiring` when first needed."""
    app = FastAPI(
        lifespan=_configure_logs,
        title="caredrip",
        version="0.1.0",
        description="Patient-education SMS and email programs: enroll patients, follow their messages.",
    )
    app.state.ctx = ApiContext(engine, clinics, public_base_url, twilio_auth_token)
    app.state.registry = make_registry(lambda: app.state.ctx.engine())
    for router in (enrollments, webhooks, pages, ops):
        app.include_router(router)
    app.add_exception_handler(RequestValidationError, on_request_validation)
    app.add_exception_handler(ValidationError, on_validation)
    app.add_exception_handler(NotFound, on_not_found)
    app.add_middleware(BodyLimit)
    return app


app = create_app()
