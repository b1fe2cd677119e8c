"""Mapping in: a CarePlan (Patient contained) or a transaction Bundle (Patient + CarePlan) -> an
enrollment body for `worker.intake`, with the FHIR element each field came from.

| FHIR | enrollment field |
| --- | --- |
| `CarePlan.status` | must be `active` |
| `CarePlan.instantiatesCanonical`: the URL ending `/PlanDefinition/<id>` | `program` |
| `CarePlan.period.start` (a date alone: midnight in the patient's zone) | `start_at` (absent: now), or an anchor |
| `CarePlan.subject`: `#id` of a contained Patient, or the Bundle's Patient `fullUrl` | the patient (`patient_in`) |
| contained Consents (and the Bundle's Consent entries) | `channels`, `consent` (`consent_in`) |

A resource that does not parse with the R4 models answers 400; a missing or unusable element 422.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError as PydanticValidationError

from worker.fhir.consent_in import consent_fields
from worker.fhir.errors import fail, from_pydantic
from worker.fhir.paths import FieldPaths, Where
from worker.fhir.patient_in import patient_fields
from worker.records import CHANNELS
from worker.timezones import canonical_zone

CAREPLAN_STATUSES = ("draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown")
_PLAN = re.compile(r"/PlanDefinition/([A-Za-z0-9\-.]{1,64})(?:/_history/[^|]*)?(?:\|.*)?$")
ENTRY_KINDS = ("Patient", "CarePlan", "Consent")


@dataclass
class EnrollInput:
    """An enrollment body for `worker.intake`, each consented channel's own time, and where each field came from."""

    body: dict[str, Any]
    consent: dict[str, datetime]
    paths: FieldPaths


def parse_as(model: type[Any], raw: Any, root: str) -> Any:
    """`raw` as the R4 `model`; 400 OperationOutcome naming each element that does not parse."""
    if not isinstance(raw, dict) or raw.get("resourceType") != root:
        got = raw.get("resourceType") if isinstance(raw, dict) else None
        raise fail(400, "invalid", f"expected a {root} resource, got {got or 'no resourceType'}", "resourceType")
    check_resource_types(raw, root)
    try:
        return model.model_validate(raw)
    except PydanticValidationError as exc:
        raise from_pydantic(exc, root) from None
    except (KeyError, TypeError, ValueError) as exc:  # the models' own errors outside pydantic's
        raise fail(400, "structure", f"the {root} does not parse: {type(exc).__name__}", root) from None


def check_resource_types(raw: dict[str, Any], path: str) -> None:
    """Each resource inside `raw` (contained, a Bundle entry's resource or outcome) names a known
    resourceType: the models fail outside pydantic's errors when one does not."""
    inner: list[tuple[Any, str]] = [(r, f"{path}.contained[{i}]") for i, r in enumerate(_list(raw.get("contained")))]
    for i, entry in enumerate(_list(raw.get("entry")) if raw.get("resourceType") == "Bundle" else []):
        if isinstance(entry, dict):
            inner += [(entry[k], f"{path}.entry[{i}].{k}") for k in ("resource",) if k in entry]
            response = entry.get("response")
            if isinstance(response, dict) and "outcome" in response:
                inner.append((response["outcome"], f"{path}.entry[{i}].response.outcome"))
    for resource, where in inner:
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if not isinstance(kind, str) or not _known(kind):
            raise fail(400, "structure", f"not a FHIR resource: resourceType {kind!r}", f"{where}.resourceType")
        check_resource_types(resource, where)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _known(kind: str) -> bool:
    """`kind` names an R4 resource (not a datatype such as HumanName)."""
    try:
        return issubclass(get_fhir_model_class(kind), Resource)
    except (KeyError, ValueError):
        return False


def from_careplan(raw: Any) -> EnrollInput:
    """POST /fhir/r4/CarePlan: the Patient (and Consents) contained, `subject` = `#<contained id>`."""
    plan: CarePlan = parse_as(CarePlan, raw, "CarePlan")
    here = Where("CarePlan", "CarePlan")
    contained = list(enumerate(plan.contained or []))
    ref = plan.subject.reference or ""
    found = [(i, r) for i, r in contained if isinstance(r, Patient) and ref == f"#{r.id}"]
    if not ref.startswith("#") or not found:
        raise fail(422, "invalid", "subject must reference the contained Patient as #<id>", *here.at(".subject"))
    i, patient = found[0]
    consents = [(r, Where("Consent", f"CarePlan.contained[{j}]")) for j, r in contained if isinstance(r, Consent)]
    return _combine(plan, here, patient, Where("Patient", f"CarePlan.contained[{i}]"), consents)


def from_bundle(raw: Any) -> EnrollInput:
    """POST /fhir/r4/Bundle: a `transaction` of a Patient and a CarePlan whose subject is the Patient's fullUrl."""
    bundle: Bundle = parse_as(Bundle, raw, "Bundle")
    if bundle.type != "transaction":
        raise fail(422, "not-supported", "only a transaction Bundle is accepted", "Bundle.type")
    plans: list[tuple[CarePlan, Where]] = []
    patients: dict[str, tuple[Patient, Where]] = {}
    consents: list[tuple[Consent, Where]] = []
    for n, entry in enumerate(bundle.entry or []):
        res, prefix = entry.resource, f"Bundle.entry[{n}].resource"
        if isinstance(res, CarePlan):
            plans.append((res, Where("CarePlan", prefix)))
        elif isinstance(res, Patient):
            patients[entry.fullUrl or f"Patient/{res.id}"] = (res, Where("Patient", prefix))
        elif isinstance(res, Consent):
            consents.append((res, Where("Consent", prefix)))
        else:
            kind = getattr(res, "get_resource_type", lambda: "nothing")()
            raise fail(422, "not-supported", f"a {kind} entry: a Bundle holds {', '.join(ENTRY_KINDS)}", prefix)
    if len(plans) != 1:
        raise fail(422, "invalid", f"the Bundle must hold exactly one CarePlan (found {len(plans)})", "Bundle.entry")
    plan, here = plans[0]
    target = patients.get(plan.subject.reference or "")
    if target is None:
        raise fail(422, "invalid", "CarePlan.subject must be the fullUrl of the Bundle's Patient", *here.at(".subject"))
    contained = [
        (r, Where("Consent", f"{here.prefix}.contained[{j}]")) for j, r in enumerate(plan.contained or [])
        if isinstance(r, Consent)
    ]  # fmt: skip
    return _combine(plan, here, target[0], target[1], contained + consents)


def _combine(
    plan: CarePlan, here: Where, patient: Patient, at_patient: Where, consents: list[tuple[Consent, Where]]
) -> EnrollInput:
    _check_status(plan, here)
    who = patient_fields(patient, at_patient)
    given = consent_fields(consents, here)
    body: dict[str, Any] = {**who.body, "program": _program(plan, here)}
    body["channels"] = [str(ch) for ch in CHANNELS if ch in given.given]
    body["consent"] = {**{ch: True for ch in body["channels"]}, "recorded_at": max(given.given.values()).isoformat()}
    paths = {**who.paths, **given.paths, "program": here.at(".instantiatesCanonical")}
    if plan.period is not None and plan.period.start is not None:
        body["start_at"] = _start(plan.period.start, body.get("timezone"))
        paths["start_at"] = here.at(".period.start")
    return EnrollInput(body, given.given, paths)


def _check_status(plan: CarePlan, here: Where) -> None:
    if plan.status not in CAREPLAN_STATUSES:
        raise fail(400, "code-invalid", f"{plan.status!r} is not a CarePlan status", *here.at(".status"))
    if plan.status != "active":
        raise fail(
            422, "business-rule", f"a CarePlan enrolls only when active (got {plan.status})", *here.at(".status")
        )


def _program(plan: CarePlan, here: Where) -> str:
    for url in plan.instantiatesCanonical or []:
        match = _PLAN.search(url or "")
        if match:
            return match.group(1)
    raise fail(
        422,
        "required",
        "instantiatesCanonical must name the program: a PlanDefinition URL ending /PlanDefinition/<program id>",
        *here.at(".instantiatesCanonical"),
    )


def _start(value: datetime | date, zone: Any) -> str:
    """period.start as an ISO instant; a date alone is midnight in the patient's zone (when valid)."""
    if isinstance(value, datetime):
        return value.isoformat()
    try:
        tz = ZoneInfo(canonical_zone(str(zone)))
    except (ValueError, KeyError):
        return value.isoformat()  # refused with the zone's own error
    return datetime.combine(value, time(0), tz).isoformat()
