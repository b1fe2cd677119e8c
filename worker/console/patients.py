"""Patients: a clinic lists its enrollments (newest first, a page of 50, from the clinic's index
`cd:enrollments:<clinic>`: ids only, each enrollment opened to show its sealed patient_ref and
state), finds them by patient_ref, and reads one patient's timeline,
consent, opt-outs, open red-flag alerts and replies (acknowledging a reply closes its alert,
`worker.inbox.acknowledge`); Pause / Resume / Cancel go through `worker.enrollment`, audited as
the session's actor (`Principal.actor`).

Finding needs no index: enrollment ids derive from (clinic, patient_ref, program, generation)
(`worker.tokens.enrollment_id`), so a search computes them for every program and walks back
from the latest generation. A clinic sees only its own enrollments: another clinic's id answers
the same 404 page as an id that does not exist. An operator may open any enrollment by id and
sees masked contact details only: no name, no patient_ref, no reply bodies.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from worker.alerts import open_alerts
from worker.console.auth import Form, Principal, Who, check_csrf
from worker.console.deps import Console, console
from worker.console.timeline import timeline
from worker.console.views import PageError, page, see_other
from worker.contact import mask_email, mask_phone
from worker.enrollment import cancel, get_owned, pause, refuse_if_ended, resume
from worker.enrollment_view import view_of
from worker.errors import Conflict, ContentError, NotFound
from worker.inbox import Reply, acknowledge, list_replies
from worker.records import Enrollment
from worker.tokens import enrollment_id

router = APIRouter(prefix="/console/patients", include_in_schema=False)
Ctx = Annotated[Console, Depends(console)]
GENERATIONS_SHOWN = 10
MAX_REF = 128
PAGE = 50
MAX_PAGE = 10_000
ACTIONS = {"pause": pause, "resume": resume, "cancel": cancel}
NOT_FOUND = PageError(404, "No such patient", "No enrollment with that id belongs to your clinic.")


def find_by_ref(c: Console, clinic_id: str, ref: str) -> list[Enrollment]:
    """The clinic's enrollments of `ref` in every program (the latest generations), newest first."""
    deps = c.engine()
    programs = deps.catalog.ids()
    firsts = [enrollment_id(deps.secret, clinic_id, ref, p) for p in programs]
    latest = c.store().latest_generation(firsts)
    ids: list[str] = []
    for program, newest in zip(programs, latest, strict=True):
        oldest = max(0, newest - GENERATIONS_SHOWN + 1)
        ids += [enrollment_id(deps.secret, clinic_id, ref, program, g) for g in range(newest, oldest - 1, -1)]
    found = [e for e in deps.store.get_enrollments(ids) if e is not None and e.clinic_id == clinic_id]
    return sorted(found, key=lambda e: e.created_at, reverse=True)


def owned(c: Console, who: Principal, eid: str) -> Enrollment:
    """The enrollment if this session may see it; the 404 page otherwise (whoever's it is)."""
    if not eid.isalnum() or len(eid) > 64:
        raise NOT_FOUND
    try:
        return get_owned(c.engine(), eid, who.clinic_id)
    except NotFound:
        raise NOT_FOUND from None


def listed(c: Console, clinic_id: str, number: int) -> tuple[list[Enrollment], int]:
    """Page `number` (from 1) of the clinic's enrollments, newest first, and how many it has;
    ids whose enrollment is gone (expired, erased) are dropped from its index on the way."""
    store = c.engine().store
    ids, total = store.clinic_enrollments(clinic_id, (number - 1) * PAGE, PAGE)
    found = store.get_enrollments(ids)
    store.forget_clinic_enrollments(clinic_id, [eid for eid, e in zip(ids, found, strict=True) if e is None])
    return [e for e in found if e is not None and e.clinic_id == clinic_id], total


def _page_number(raw: str) -> int:
    if not raw:
        return 1
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise PageError(422, "No such page", f"page is a whole number from 1 to {MAX_PAGE}.")
    return int(raw)


@router.get("")
def search(request: Request, who: Who, c: Ctx) -> Response:
    ref = request.query_params.get("ref", "").strip()
    if len(ref) > MAX_REF:
        raise PageError(422, "patient_ref too long", f"A patient_ref is at most {MAX_REF} characters.")
    number = _page_number(request.query_params.get("page", ""))
    results: list[Enrollment] = []
    total = 0
    if ref and who.is_operator:
        results = [owned(c, who, ref)]  # operators look an enrollment up by its id
    elif ref:
        results = find_by_ref(c, who.id, ref)
    elif not who.is_operator:
        results, total = listed(c, who.id, number)
    pages = max(1, -(-total // PAGE))
    values: dict[str, Any] = {"who": who, "csrf": who.csrf, "nav": "patients", "ref": ref, "results": results,
                              "searched": bool(ref), "number": number, "pages": pages, "total": total}  # fmt: skip
    return page("patients.html", **values)


def _contact(who: Principal, e: Enrollment) -> dict[str, str]:
    if who.is_operator:
        return {"phone": mask_phone(e.phone) if e.phone else "—", "email": mask_email(e.email) if e.email else "—"}
    return {"phone": e.phone or "—", "email": e.email or "—"}


def _replies(c: Console, who: Principal, eid: str) -> list[Reply]:
    """The clinic's replies about this enrollment, newest first (an operator sees none)."""
    if who.is_operator:
        return []
    return [r for r in list_replies(c.engine(), who.id, limit=200).replies if r.enrollment_id == eid]


@router.get("/{eid}")
def patient(eid: str, request: Request, who: Who, c: Ctx) -> Response:
    enrollment = owned(c, who, eid)
    deps = c.engine()
    view = view_of(deps, enrollment)
    try:
        rows = timeline(deps, eid, who.clinic_id, c.api.caps())
    except (ContentError, NotFound):  # a program no longer in the catalog; ended meanwhile
        rows = []
    values: dict[str, Any] = {
        "who": who, "csrf": who.csrf, "nav": "patients", "e": enrollment, "view": view, "rows": rows,
        "contact": _contact(who, enrollment), "replies": _replies(c, who, eid), "zone": enrollment.timezone,
        "done": request.query_params.get("done", ""),
        "alerts": [a for a in open_alerts(deps, who.clinic_id) if a.enrollment_id == eid],
    }  # fmt: skip
    return page("patient.html", **values)


@router.post("/{eid}/{action}")
def act(eid: str, action: str, who: Who, form: Form, c: Ctx) -> Response:
    check_csrf(who, form)
    enrollment = owned(c, who, eid)
    run = ACTIONS.get(action)
    if run is None:
        raise PageError(404, "No such action", "An enrollment can be paused, resumed or canceled.")
    try:
        if action != "cancel":
            refuse_if_ended(enrollment, action)
        run(c.engine(), eid, who.clinic_id, actor=who.actor)
    except Conflict as exc:
        raise PageError(409, f"Cannot {action} this enrollment", str(exc).capitalize() + ".") from None
    return see_other(f"/console/patients/{eid}?done={action}")


@router.post("/{eid}/replies/{rid}/ack")
def acknowledge_reply(eid: str, rid: str, who: Who, form: Form, c: Ctx) -> Response:
    check_csrf(who, form)
    owned(c, who, eid)
    if who.is_operator:
        raise PageError(403, "Clinics only", "Only the clinic acknowledges its patients' replies.")
    try:
        acknowledge(c.engine(), who.id, rid)
    except NotFound:
        raise PageError(404, "No such reply", "No reply with that id belongs to your clinic.") from None
    return see_other(f"/console/patients/{eid}?done=acknowledged")
