"""FHIR R4 over HTTP (`/fhir/r4`): enroll with a CarePlan or a transaction Bundle, follow it, read
each message back as a Communication, read a program as a PlanDefinition.

Thin handlers over `worker.fhir` (mapping) and the engine (`worker.enrollment`,
`worker.enrollment_view`). The clinic key authenticates every route but `metadata` (FHIR clients
read it before they authenticate); every error, 401 included, answers an OperationOutcome.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from worker import __version__, wiring
from worker.api.auth import Actor, ClinicId
from worker.api.context import ApiContext, Ctx
from worker.delivery.types import DeliveryDeps
from worker.enrollment import get_owned
from worker.enrollment_view import messages_of, view_of
from worker.errors import Conflict, ContentError, NotFound
from worker.fhir.capability import capability_statement
from worker.fhir.careplan_in import EnrollInput, from_bundle, from_careplan
from worker.fhir.careplan_out import careplan
from worker.fhir.communication import communication, searchset
from worker.fhir.errors import FhirError, Issue, fail, outcome
from worker.fhir.lifecycle import apply_status, enroll_from, status_from_patch, status_from_put
from worker.fhir.payload import composer, message_text
from worker.fhir.plandefinition import plan_definition
from worker.fhir.terms import MEDIA_TYPE, plan_url
from worker.logs import get_logger
from worker.records import Enrollment, parse_message_id
from worker.render import Renderer

log = get_logger("caredrip.fhir")
PREFIX = "/fhir/r4"
# Not in /openapi.json: FHIR clients discover the endpoint by its CapabilityStatement (GET metadata).
router = APIRouter(prefix=PREFIX, tags=["fhir"], include_in_schema=False)
JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")
PATCH_TYPES = ("application/json-patch+json", "application/json")


class FhirResponse(JSONResponse):
    media_type = MEDIA_TYPE


def _answer(resource: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return FhirResponse(resource, status_code=status, headers=headers)


def _reader(accepted: tuple[str, ...]) -> Any:
    async def read(request: Request) -> Any:
        """The request's JSON body; 415 for another media type, 400 when it is not JSON."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind and kind not in accepted:
            raise fail(415, "not-supported", f"send {' or '.join(accepted)}, not {kind}")
        try:
            return json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise fail(400, "structure", "the body is not JSON") from None

    return read


FhirBody = Annotated[Any, Depends(_reader(JSON_TYPES))]
PatchBody = Annotated[Any, Depends(_reader(PATCH_TYPES))]


@contextmanager
def _fhir_errors(what: str, eid: str) -> Iterator[None]:
    """The engine's NotFound and Conflict as OperationOutcomes."""
    try:
        yield
    except NotFound:
        raise fail(404, "not-found", f"no {what} {eid}", what) from None
    except Conflict as exc:
        raise fail(409, "conflict", str(exc), f"{what}.status") from None


@cache
def _renderer(templates_dir: Path) -> Renderer:
    return Renderer(templates_dir)


def _composer(ctx: ApiContext) -> DeliveryDeps:
    """Render-only delivery deps for one request (each clinic read once)."""
    clinic = cache(ctx.clinics().get)
    return composer(ctx.engine(), _renderer(wiring.settings().templates_dir), ctx.base_url(), clinic)


@router.get("/metadata")
def metadata(ctx: Ctx) -> Response:
    """The CapabilityStatement: exactly what this endpoint supports."""
    return _answer(capability_statement(ctx.base_url(), __version__, ctx.engine().clock.now()))


def _created(ctx: Ctx, cid: str, actor: str, given: EnrollInput) -> tuple[Enrollment, bool, dict[str, Any]]:
    deps = ctx.engine()
    enrollment, created = enroll_from(deps, cid, given, actor)
    log.info("fhir_enrollment", enrollment_id=enrollment.id, clinic_id=cid, created=created)
    return enrollment, created, careplan(view_of(deps, enrollment), ctx.base_url())


def _location(ctx: Ctx, eid: str) -> str:
    return f"{ctx.base_url()}{PREFIX}/CarePlan/{eid}"


@router.post("/CarePlan")
def create_careplan(cid: ClinicId, actor: Actor, body: FhirBody, ctx: Ctx) -> Response:
    """Enroll: a CarePlan with its Patient contained. 201 new; the same (patient, program) again 200."""
    enrollment, created, plan = _created(ctx, cid, actor, from_careplan(body))
    return _answer(plan, 201 if created else 200, {"Location": _location(ctx, enrollment.id)})


@router.post("/Bundle")
def create_bundle(cid: ClinicId, actor: Actor, body: FhirBody, ctx: Ctx) -> Response:
    """Enroll: a transaction Bundle of a Patient and a CarePlan; answers as POST /CarePlan does."""
    enrollment, created, plan = _created(ctx, cid, actor, from_bundle(body))
    return _answer(plan, 201 if created else 200, {"Location": _location(ctx, enrollment.id)})


@router.post("")
def transaction(cid: ClinicId, actor: Actor, body: FhirBody, ctx: Ctx) -> Response:
    """The standard transaction interaction: the same Bundle, answered by a transaction-response Bundle."""
    enrollment, created, plan = _created(ctx, cid, actor, from_bundle(body))
    entry = {
        "fullUrl": _location(ctx, enrollment.id),
        "resource": plan,
        "response": {"status": "201 Created" if created else "200 OK", "location": f"CarePlan/{enrollment.id}"},
    }
    return _answer({"resourceType": "Bundle", "type": "transaction-response", "entry": [entry]})


@router.get("/CarePlan/{eid}")
def read_careplan(eid: str, cid: ClinicId, ctx: Ctx) -> Response:
    deps = ctx.engine()
    with _fhir_errors("CarePlan", eid):
        return _answer(careplan(view_of(deps, get_owned(deps, eid, cid)), ctx.base_url()))


@router.put("/CarePlan/{eid}")
def update_careplan(eid: str, cid: ClinicId, actor: Actor, body: FhirBody, ctx: Ctx) -> Response:
    """Change the status only (on-hold pauses, active resumes, revoked cancels)."""
    deps = ctx.engine()
    with _fhir_errors("CarePlan", eid):
        current = get_owned(deps, eid, cid)
        target = status_from_put(body, eid, current, plan_url(ctx.base_url(), current.program))
        return _answer(careplan(view_of(deps, apply_status(deps, eid, cid, target, actor)), ctx.base_url()))


@router.patch("/CarePlan/{eid}")
def patch_careplan(eid: str, cid: ClinicId, actor: Actor, body: PatchBody, ctx: Ctx) -> Response:
    """JSON Patch of /status (on-hold pauses, active resumes, revoked cancels)."""
    deps = ctx.engine()
    with _fhir_errors("CarePlan", eid):
        get_owned(deps, eid, cid)
        target = status_from_patch(body)
        return _answer(careplan(view_of(deps, apply_status(deps, eid, cid, target, actor)), ctx.base_url()))


def _plan_id(based_on: str | None) -> str:
    ref = (based_on or "").split("|")[0]
    head, _, eid = ref.rpartition("CarePlan/")
    if not ref or not eid or (head and not head.endswith("/")) or "/" in eid:
        raise fail(400, "required", "search by based-on=CarePlan/<id> (the only search supported)", "based-on")
    return eid


@router.get("/Communication")
def search_communications(
    request: Request, cid: ClinicId, ctx: Ctx, based_on: Annotated[str | None, Query(alias="based-on")] = None
) -> Response:
    """Every message of a CarePlan, oldest first, as a searchset Bundle."""
    eid, deps, base = _plan_id(based_on), ctx.engine(), ctx.base_url()
    with _fhir_errors("CarePlan", eid):
        records = messages_of(deps, eid, cid)
        enrollment = get_owned(deps, eid, cid)
    compose = _composer(ctx)
    found = [communication(enrollment, r, message_text(compose, enrollment, r), base) for r in records]
    return _answer(searchset(found, base, f"{base}{PREFIX}/Communication?based-on=CarePlan/{eid}"))


@router.get("/Communication/{mid}")
def read_communication(mid: str, cid: ClinicId, ctx: Ctx) -> Response:
    deps = ctx.engine()
    with _fhir_errors("Communication", mid):
        try:
            eid = parse_message_id(mid)[0]
        except ValueError:
            raise NotFound(mid) from None
        enrollment = get_owned(deps, eid, cid)
        record = deps.store.record(mid)
        if record is None:
            raise NotFound(mid)
    text = message_text(_composer(ctx), enrollment, record)
    return _answer(communication(enrollment, record, text, ctx.base_url()))


@router.get("/PlanDefinition/{program}")
def read_plan_definition(program: str, cid: ClinicId, ctx: Ctx) -> Response:
    try:
        found = ctx.engine().catalog.get(program)
    except ContentError:
        raise fail(404, "not-found", f"no program {program}", "PlanDefinition") from None
    return _answer(plan_definition(found, ctx.base_url()))


async def on_fhir_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FhirError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return _answer(outcome(exc.issues), exc.status, headers)


_HTTP_ISSUES = {401: "login", 404: "not-found", 405: "not-supported", 413: "too-costly"}


async def on_http_error(request: Request, exc: Exception) -> Response:
    """Under /fhir/ an HTTP error (401 without a key, an unknown route) is an OperationOutcome too."""
    assert isinstance(exc, HTTPException)
    if not request.url.path.startswith(f"{PREFIX}/") and request.url.path != PREFIX:
        return await http_exception_handler(request, exc)
    issue = Issue(_HTTP_ISSUES.get(exc.status_code, "processing"), str(exc.detail))
    return _answer(outcome([issue]), exc.status_code, dict(exc.headers or {}))


def install(app: FastAPI) -> None:
    """The FHIR routes and their error handlers."""
    app.include_router(router)
    app.add_exception_handler(FhirError, on_fhir_error)
    app.add_exception_handler(HTTPException, on_http_error)
