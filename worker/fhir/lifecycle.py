"""Enroll from a mapped CarePlan, and change an enrollment's state through CarePlan.status.

Validation and enrolling are the ones POST /v1/enrollments uses (`worker.intake.parse_enrollment`,
`worker.enrollment.enroll`); a rule it refuses becomes a 422 naming the FHIR element the field
came from. Status: `on-hold` pauses, `active` resumes, `revoked` cancels (`worker.enrollment`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC
from typing import Any

from fhir.resources.R4B.careplan import CarePlan

from worker.deps import EngineDeps
from worker.enrollment import cancel, enroll, get_owned, pause, refuse_if_ended, resume
from worker.errors import ContentError, ValidationError
from worker.fhir.careplan_in import CAREPLAN_STATUSES, EnrollInput, parse_as
from worker.fhir.careplan_out import careplan_status
from worker.fhir.errors import fail
from worker.intake import parse_enrollment
from worker.records import Enrollment

ACTIONS = {"on-hold": ("pause", pause), "active": ("resume", resume), "revoked": ("cancel", cancel)}


def enroll_from(deps: EngineDeps, clinic_id: str, given: EnrollInput, actor: str) -> tuple[Enrollment, bool]:
    """(enrollment, created): validated and enrolled as POST /v1/enrollments does, each channel's
    consent kept with its own Consent's time. For a program timed from exactly one anchor (a
    visit), `CarePlan.period.start` is that anchor rather than the start."""
    given = period_start_as_anchor(deps, given)
    try:
        new = parse_enrollment(clinic_id, given.body, deps)
    except ValidationError as exc:
        where = given.paths.get(exc.field) or given.paths.get(exc.field.split(".")[0]) or ("CarePlan",)
        raise fail(422, "invalid", f"{exc.message} (caredrip's {exc.field})", *where) from None
    consent = {ch: given.consent[ch].astimezone(UTC) for ch in new.channels}
    return enroll(deps, replace(new, consent=consent), actor=actor)


def period_start_as_anchor(deps: EngineDeps, given: EnrollInput) -> EnrollInput:
    """`start_at` (from CarePlan.period.start) moved to the anchor of a program that has exactly
    one; anything else unchanged."""
    try:
        program = deps.catalog.get(str(given.body.get("program", "")))
    except ContentError:
        return given  # parse_enrollment names the unknown program
    if len(program.anchors) != 1 or "start_at" not in given.body:
        return given
    [name] = program.anchors
    body = {k: v for k, v in given.body.items() if k != "start_at"}
    body["anchors"] = {name: given.body["start_at"]}
    paths = {k: v for k, v in given.paths.items() if k != "start_at"}
    if "start_at" in given.paths:
        paths[f"anchors.{name}"] = given.paths["start_at"]
    return replace(given, body=body, paths=paths)


def status_from_patch(ops: Any) -> str:
    """The status a JSON Patch sets: only `replace` (or `add`) of `/status`, `test` ops allowed beside it."""
    if not isinstance(ops, list) or not ops:
        raise fail(400, "structure", "a JSON Patch is a non-empty array of operations", "CarePlan")
    target = None
    for op in ops:
        if not isinstance(op, dict) or op.get("path") != "/status" or op.get("op") not in ("replace", "add", "test"):
            raise fail(422, "not-supported", "only CarePlan.status can be patched (op replace, path /status)",
                       "CarePlan.status")  # fmt: skip
        if op["op"] != "test":
            target = op.get("value")
    if not isinstance(target, str):
        raise fail(400, "value", "the patch must replace /status with a status code", "CarePlan.status")
    return target


def status_from_put(raw: Any, eid: str, current: Enrollment, plan_url: str) -> str:
    """The status a full CarePlan PUT sets; its id must be the URL's and its program the enrollment's."""
    plan: CarePlan = parse_as(CarePlan, raw, "CarePlan")
    if plan.id != eid:
        raise fail(400, "invalid", f"the CarePlan's id must be {eid}, the id in the URL", "CarePlan.id")
    urls = [u for u in plan.instantiatesCanonical or [] if u]
    if urls and not any(u.split("|")[0].endswith(f"/PlanDefinition/{current.program}") for u in urls):
        raise fail(422, "business-rule", f"the program cannot change: expected {plan_url}",
                   "CarePlan.instantiatesCanonical")  # fmt: skip
    return str(plan.status)


def apply_status(deps: EngineDeps, eid: str, clinic_id: str, target: str, actor: str) -> Enrollment:
    """Pause, resume or cancel so the CarePlan's status becomes `target`; 404 for another clinic's."""
    current = get_owned(deps, eid, clinic_id)
    if target == careplan_status(current.state):
        return current
    if target not in ACTIONS:
        known = target in CAREPLAN_STATUSES
        allowed = ", ".join(ACTIONS)
        raise fail(422 if known else 400, "business-rule" if known else "code-invalid",
                   f"status {target!r} cannot be set: use {allowed}", "CarePlan.status")  # fmt: skip
    name, action = ACTIONS[target]
    if name != "cancel":
        refuse_if_ended(current, name)
    return action(deps, eid, clinic_id, actor=actor)
