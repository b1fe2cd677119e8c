"""The URLs and codes caredrip's FHIR resources use: standard systems and caredrip's own."""

from __future__ import annotations

FHIR_VERSION = "4.0.1"  # R4
MEDIA_TYPE = "application/fhir+json"
TIMEZONE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/timezone"
PARTICIPATION_MODE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"
BCP47 = "urn:ietf:bcp:47"
UCUM = "http://unitsofmeasure.org"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"

# ParticipationMode has no code for SMS: ONLINEWRIT ("text submitted by computer network") is the
# closest written electronic mode; the CodeableConcept's text and caredrip's channel code say "SMS".
MEDIUM = {
    "sms": ("ONLINEWRIT", "online written", "SMS"),
    "email": ("EMAILWRIT", "email", "Email"),
}


def channel_system(base: str) -> str:
    """caredrip's code system of channels (`sms`, `email`), under the deployment's public URL."""
    return f"{base}/fhir/r4/CodeSystem/caredrip-channel"


def reason_system(base: str) -> str:
    """caredrip's code system of why a message was not sent (`worker.fhir.communication`)."""
    return f"{base}/fhir/r4/CodeSystem/caredrip-message-reason"


def plan_url(base: str, program: str) -> str:
    """The canonical URL of a program's PlanDefinition (what CarePlan.instantiatesCanonical names)."""
    return f"{base}/fhir/r4/PlanDefinition/{program}"
