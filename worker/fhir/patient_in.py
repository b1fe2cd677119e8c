"""Mapping in: a FHIR Patient -> the patient fields of caredrip's enrollment body.

| FHIR | enrollment field |
| --- | --- |
| `identifier`: the one typed `MR`, else `use: usual`, else the first with a value | `patient_ref` (its value) |
| `name[0].given[0]` | `first_name` |
| `telecom`: `system: sms`, or `phone` with `use: mobile`; lowest `rank` first | `phone` |
| `telecom`: `system: email`; lowest `rank` first | `email` |
| `communication[preferred=true]` (else the first) `.language.coding[0].code`, primary subtag | `language` |
| extension `http://hl7.org/fhir/StructureDefinition/timezone` (`valueCode`) | `timezone` |

Values are only carried over here: `worker.intake` validates them as it does POST /v1/enrollments
(E.164, email, IANA zone, a language the program speaks); `FieldPaths` says where each came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B.contactpoint import ContactPoint
from fhir.resources.R4B.patient import Patient

from worker.fhir.errors import fail
from worker.fhir.paths import FieldPaths, Where
from worker.fhir.terms import TIMEZONE_EXTENSION

MR_CODE = "MR"  # http://terminology.hl7.org/CodeSystem/v2-0203: medical record number


@dataclass
class PatientFields:
    """What the Patient says, as enrollment-body fields, and where each field came from."""

    body: dict[str, Any] = field(default_factory=dict)
    paths: FieldPaths = field(default_factory=dict)


def patient_fields(patient: Patient, where: Where) -> PatientFields:
    """The Patient's enrollment fields; 422 naming the element when the patient has no id or zone."""
    out = PatientFields()
    _identifier(patient, where, out)
    _first_name(patient, where, out)
    _telecom(patient, where, out)
    _language(patient, where, out)
    _timezone(patient, where, out)
    return out


def _identifier(patient: Patient, where: Where, out: PatientFields) -> None:
    found = [(i, ident) for i, ident in enumerate(patient.identifier or []) if ident.value]
    if not found:
        raise fail(
            422, "required", "the Patient needs an identifier (the clinic's patient id)", *where.at(".identifier")
        )

    def preference(item: tuple[int, Any]) -> tuple[int, int]:
        i, ident = item
        codes = [c.code for c in (ident.type.coding or [])] if ident.type else []
        return (0 if MR_CODE in codes else 1 if ident.use == "usual" else 2, i)

    i, ident = min(found, key=preference)
    out.body["patient_ref"] = ident.value
    out.paths["patient_ref"] = where.at(f".identifier[{i}].value")


def _first_name(patient: Patient, where: Where, out: PatientFields) -> None:
    names = patient.name or []
    given = names[0].given if names else None
    if given and given[0]:
        out.body["first_name"] = given[0]
        out.paths["first_name"] = where.at(".name[0].given[0]")
    else:
        out.paths["first_name"] = where.at(".name[0].given" if names else ".name")


def ranked(telecom: list[ContactPoint], wanted: Any) -> list[tuple[int, ContactPoint]]:
    """(index, contact point) of those `wanted` accepts, lowest `rank` first (no rank: last), then in order."""
    chosen = [(i, cp) for i, cp in enumerate(telecom) if wanted(cp) and cp.value]
    return sorted(chosen, key=lambda item: (item[1].rank if item[1].rank is not None else 1 << 31, item[0]))


def is_sms(cp: ContactPoint) -> bool:
    return cp.system == "sms" or (cp.system == "phone" and cp.use == "mobile")


def is_email(cp: ContactPoint) -> bool:
    return cp.system == "email"


def _telecom(patient: Patient, where: Where, out: PatientFields) -> None:
    telecom = list(patient.telecom or [])
    for name, wanted in (("phone", is_sms), ("email", is_email)):
        best = ranked(telecom, wanted)
        if best:
            i, cp = best[0]
            out.body[name] = cp.value
            out.paths[name] = where.at(f".telecom[{i}].value")
        else:
            out.paths[name] = where.at(".telecom")
    out.paths["channels"] = where.at(".telecom")


def _language(patient: Patient, where: Where, out: PatientFields) -> None:
    comms = list(enumerate(patient.communication or []))
    if not comms:
        return
    i, comm = next(((i, c) for i, c in comms if c.preferred), comms[0])
    codings = comm.language.coding or []
    code = codings[0].code if codings else None
    out.paths["language"] = where.at(f".communication[{i}].language.coding[0].code" if code else f".communication[{i}]")
    out.body["language"] = (code or "").split("-")[0].lower()


def _timezone(patient: Patient, where: Where, out: PatientFields) -> None:
    for i, ext in enumerate(patient.extension or []):
        if ext.url == TIMEZONE_EXTENSION:
            out.body["timezone"] = ext.valueCode
            out.paths["timezone"] = where.at(f".extension[{i}].valueCode")
            return
    raise fail(
        422,
        "required",
        f"the Patient needs the extension {TIMEZONE_EXTENSION} with an IANA zone (valueCode): "
        "messages go at the patient's local time and clinics have no default zone",
        *where.at(".extension"),
    )
