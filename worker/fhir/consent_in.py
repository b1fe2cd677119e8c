"""Mapping in: Consent resources -> which channels the patient agreed to, and when it was recorded.

A Consent counts for a channel when its `status` is `active`, its `provision.type` is not `deny`,
and a coding of its `category` names the channel: code `sms` or `email` (in any system; caredrip's
own is `<base>/fhir/r4/CodeSystem/caredrip-channel`), or `EMAILWRIT` of HL7's ParticipationMode
for email. `Consent.dateTime` is when the clinic recorded it (a date alone: midnight UTC). Consents
come contained in the CarePlan, or as entries of the transaction Bundle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from fhir.resources.R4B.consent import Consent

from worker.fhir.errors import fail
from worker.fhir.paths import FieldPaths, Where
from worker.fhir.terms import PARTICIPATION_MODE
from worker.records import CHANNELS


@dataclass
class ConsentFields:
    """Each consented channel -> when its consent was recorded; where each came from."""

    given: dict[str, datetime] = field(default_factory=dict)
    paths: FieldPaths = field(default_factory=dict)


def channels_named(consent: Consent) -> list[str]:
    """The caredrip channels a Consent's category names."""
    named: list[str] = []
    for concept in consent.category or []:
        for coding in concept.coding or []:
            code = (coding.code or "").lower()
            if coding.system == PARTICIPATION_MODE and coding.code == "EMAILWRIT":
                code = "email"
            if code in CHANNELS and code not in named:
                named.append(code)
    return named


def recorded_at(value: datetime | date | None) -> datetime | None:
    if isinstance(value, datetime):
        return value
    return None if value is None else datetime.combine(value, time(0), UTC)


def consent_fields(consents: list[tuple[Consent, Where]], where_any: Where) -> ConsentFields:
    """The channels consented to; 422 when no active Consent names a channel, or one lacks its time."""
    out = ConsentFields()
    for consent, where in consents:
        if consent.status != "active" or (consent.provision is not None and consent.provision.type == "deny"):
            continue
        channels = channels_named(consent)
        if not channels:
            continue
        at = recorded_at(consent.dateTime)
        if at is None:
            raise fail(422, "required", "an active Consent needs dateTime: when the consent was recorded",
                       *where.at(".dateTime"))  # fmt: skip
        for ch in channels:
            if ch not in out.given or at > out.given[ch]:
                out.given[ch] = at
                out.paths[f"consent.{ch}"] = where.at(".category")
                out.paths["consent.recorded_at"] = where.at(".dateTime")
    if not out.given:
        raise fail(
            422,
            "required",
            "no active Consent names a channel: contain a Consent (status active) whose category codes sms or email",
            *where_any.at(".contained"),
        )
    return out
