"""Mapping out: an enrollment as a CarePlan, its Patient and Consents contained.

`id` is the enrollment id; `status` follows the enrollment's state (active, on-hold when paused,
revoked when canceled, completed); `instantiatesCanonical` the program's PlanDefinition;
`period.start` the enrollment's start, `period.end` when it ended. The contained Patient carries
what caredrip keeps of the patient (identifier value, first name, the telecom used, language,
time zone), one contained Consent per consented channel. Nothing else of the posted CarePlan
is kept.
"""

from __future__ import annotations

from typing import Any

from worker.enrollment_view import EnrollmentView
from worker.fhir.terms import BCP47, CONSENT_SCOPE, TIMEZONE_EXTENSION, channel_system, plan_url
from worker.records import Channel, Enrollment, EnrollmentState

STATUS = {
    EnrollmentState.ACTIVE: "active",
    EnrollmentState.PAUSED: "on-hold",
    EnrollmentState.CANCELED: "revoked",
    EnrollmentState.COMPLETED: "completed",
}
PATIENT_ID = "patient"


def careplan_status(state: EnrollmentState) -> str:
    return STATUS[state]


def patient_ref(enrollment: Enrollment) -> dict[str, Any]:
    """A logical Reference to the enrollment's patient (caredrip serves no Patient resource)."""
    return {"identifier": {"value": enrollment.patient_ref}, "type": "Patient"}


def careplan(view: EnrollmentView, base: str) -> dict[str, Any]:
    """The CarePlan JSON of an enrollment as its clinic sees it."""
    e = view.enrollment
    period: dict[str, Any] = {"start": e.anchor.isoformat()}
    if e.ended_at is not None:
        period["end"] = e.ended_at.isoformat()
    return {
        "resourceType": "CarePlan",
        "id": e.id,
        "contained": [_patient(e), *(_consent(ch, at.isoformat(), base) for ch, at in sorted(view.consent.items()))],
        "instantiatesCanonical": [plan_url(base, e.program)],
        "status": careplan_status(e.state),
        "intent": "plan",
        "subject": {"reference": f"#{PATIENT_ID}"},
        "period": period,
        "created": e.created_at.isoformat(),
    }


def _patient(e: Enrollment) -> dict[str, Any]:
    telecom: list[dict[str, Any]] = []
    if e.phone and Channel.SMS in e.channels:
        telecom.append({"system": "sms", "value": e.phone, "use": "mobile", "rank": 1})
    if e.email and Channel.EMAIL in e.channels:
        telecom.append({"system": "email", "value": e.email, "rank": 1})
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": PATIENT_ID,
        "extension": [{"url": TIMEZONE_EXTENSION, "valueCode": e.timezone}],
        "identifier": [{"value": e.patient_ref}],
        "name": [{"given": [e.first_name]}],
        "communication": [{"language": {"coding": [{"system": BCP47, "code": e.language}]}, "preferred": True}],
    }
    if telecom:
        patient["telecom"] = telecom
    return patient


def _consent(channel: str, at: str, base: str) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "id": f"consent-{channel}",
        "status": "active",
        "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": channel_system(base), "code": channel}]}],
        "patient": {"reference": f"#{PATIENT_ID}"},
        "dateTime": at,
        "provision": {"type": "permit"},
    }
