"""Validation of enrollment input: the body of POST/PATCH, `caredrip enroll`, the intake task.

Every rule names its field. Nothing is stored until the whole input is valid.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from worker.contact import email_address, patient_phone
from worker.deps import EngineDeps
from worker.enrollment import EnrollmentChanges, NewEnrollment
from worker.errors import ContentError, ValidationError
from worker.programs import Program
from worker.records import Channel, Enrollment
from worker.timezones import canonical_zone

Language = Literal["en", "es"]
CONSENT_CLOCK_SKEW = timedelta(minutes=5)  # a clinic's clock may run this far ahead of ours


def clean_text(value: str, *, what: str, max_length: int) -> str:
    """Trimmed text without control characters; raises ValueError otherwise."""
    value = value.strip()
    if not value:
        raise ValueError(f"{what} must not be empty")
    if len(value) > max_length:
        raise ValueError(f"{what} must be at most {max_length} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch not in "\u200d" for ch in value):
        raise ValueError(f"{what} must not contain control characters")
    return value


def aware(value: datetime, *, what: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{what} needs a UTC offset, e.g. 2026-03-01T10:00:00-05:00")
    if not datetime(2000, 1, 1, tzinfo=UTC) <= value <= datetime(2100, 1, 1, tzinfo=UTC):
        raise ValueError(f"{what} is out of range")
    return value.astimezone(UTC)


class Consent(BaseModel):
    """What the patient agreed to, and when the clinic recorded it. The flags are JSON booleans
    only (`"yes"`, `1`, `"true"` are refused); `check_consent` refuses a `recorded_at` ahead of now."""

    model_config = ConfigDict(extra="forbid")

    sms: StrictBool = False
    email: StrictBool = False
    recorded_at: datetime

    @field_validator("recorded_at")
    @classmethod
    def _recorded_at(cls, value: datetime) -> datetime:
        return aware(value, what="recorded_at")


EXAMPLE_BODY: dict[str, Any] = {
    "patient_ref": "MRN-004211",
    "program": "twitching",
    "first_name": "Ana",
    "phone": "+14155552671",
    "email": "ana@example.com",
    "channels": ["sms", "email"],
    "language": "en",
    "timezone": "America/New_York",
    "consent": {"sms": True, "email": True, "recorded_at": "2026-01-15T09:30:00-05:00"},
}


class EnrollmentBody(BaseModel):
    """POST /v1/enrollments."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [EXAMPLE_BODY]})

    patient_ref: str = Field(min_length=1, max_length=128, description="The clinic's own opaque patient id")
    program: str = Field(min_length=1, max_length=40)
    first_name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(None, max_length=32, description="E.164, e.g. +15551234567")
    email: str | None = Field(None, max_length=254)
    channels: list[Channel] = Field(min_length=1, max_length=2)
    language: Language = "en"
    timezone: str = Field(max_length=64, description="IANA timezone, e.g. America/New_York")
    consent: Consent
    start_at: datetime | None = None
    anchors: dict[str, datetime] | None = Field(
        None,
        max_length=10,
        description='The program\'s dates, ISO 8601 with offset, e.g. {"visit": "2026-12-03T15:00:00-05:00"}',
    )

    _ref = field_validator("patient_ref")(classmethod(lambda cls, v: clean_text(v, what="patient_ref", max_length=128)))
    _name = field_validator("first_name")(classmethod(lambda cls, v: clean_text(v, what="first_name", max_length=100)))
    _phone = field_validator("phone")(classmethod(lambda cls, v: None if v is None else patient_phone(v)))
    _email = field_validator("email")(classmethod(lambda cls, v: None if v is None else email_address(v)))
    _tz = field_validator("timezone")(classmethod(lambda cls, v: canonical_zone(v)))

    @field_validator("channels")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("channels must not repeat")
        return value

    @field_validator("start_at")
    @classmethod
    def _start(cls, value: datetime | None) -> datetime | None:
        return None if value is None else aware(value, what="start_at")

    @model_validator(mode="after")
    def _contact_and_consent(self) -> EnrollmentBody:
        for channel in self.channels:
            if not channel.address(self.phone, self.email):
                raise ValueError(f"{channel.contact_field}: required when channels include {channel}")
            if not getattr(self.consent, channel):
                raise ValueError(f"consent.{channel}: consent is required for every channel used")
        return self


class EnrollmentPatch(BaseModel):
    """PATCH /v1/enrollments/{id}: only the fields given change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    first_name: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=32)
    email: str | None = Field(None, max_length=254)
    language: Language | None = None
    timezone: str | None = Field(None, max_length=64)
    channels: list[Channel] | None = Field(None, min_length=1, max_length=2)
    consent: Consent | None = None
    anchors: dict[str, datetime] | None = Field(None, max_length=10)

    _name = field_validator("first_name")(
        classmethod(lambda cls, v: None if v is None else clean_text(v, what="first_name", max_length=100))
    )
    _phone = field_validator("phone")(classmethod(lambda cls, v: None if v is None else patient_phone(v)))
    _email = field_validator("email")(classmethod(lambda cls, v: None if v is None else email_address(v)))
    _tz = field_validator("timezone")(classmethod(lambda cls, v: None if v is None else canonical_zone(v)))


def check_program(deps: EngineDeps, body: EnrollmentBody) -> None:
    """The program exists and speaks the language; raises ValidationError naming the field."""
    try:
        program = deps.catalog.get(body.program)
    except ContentError:
        raise ValidationError("program", f"unknown program {body.program!r}") from None
    if body.language not in program.languages:
        raise ValidationError("language", f"program {program.id} is not available in {body.language!r}")


def check_body(deps: EngineDeps, body: EnrollmentBody) -> None:
    """What the model alone cannot check (it needs the catalog and the clock): the program and
    language, `start_at`, consent's `recorded_at`; raises ValidationError naming the field."""
    check_program(deps, body)
    check_start(deps, body.start_at)
    check_consent(deps, body.consent)
    body.anchors = check_anchors(deps, deps.catalog.get(body.program), body.anchors or {}, required=True)


def check_patch(deps: EngineDeps, current: Enrollment, patch: EnrollmentPatch) -> None:
    """The enrollment as `patch` leaves it is valid: contact details for each channel, consent for
    each channel added and for a new phone number texted, consent not recorded in the future, a
    language the program speaks; raises ValidationError naming the field."""
    channels = [Channel(ch) for ch in patch.channels or current.channels]
    if len(set(channels)) != len(channels):
        raise ValidationError("channels", "channels must not repeat")
    for channel in channels:
        if not channel.address(patch.phone or current.phone, patch.email or current.email):
            raise ValidationError(channel.contact_field, f"required when channels include {channel}")
    for channel in channels:
        if channel not in current.channels and not (patch.consent and getattr(patch.consent, channel)):
            raise ValidationError(f"consent.{channel}", "consent is required for every channel added")
    new_phone = patch.phone is not None and patch.phone != current.phone
    if Channel.SMS in channels and new_phone and not (patch.consent and patch.consent.sms):
        raise ValidationError("consent.sms", "a new phone number needs fresh SMS consent")
    check_consent(deps, patch.consent)
    if patch.anchors is not None:
        patch.anchors = check_anchors(deps, deps.catalog.get(current.program), patch.anchors, required=False)
    if patch.language and patch.language not in deps.catalog.get(current.program).languages:
        raise ValidationError("language", f"program {current.program} is not available in {patch.language!r}")


ANCHOR_PAST = timedelta(days=365)  # an anchor may lie this far behind now (a visit already past)
ANCHOR_AHEAD = timedelta(days=730)


def check_anchors(
    deps: EngineDeps, program: Program, given: dict[str, datetime], *, required: bool
) -> dict[str, datetime]:
    """The anchors in UTC: each a date the program declares, with a UTC offset, within range;
    with `required` (a new enrollment) every declared one. ValidationError names `anchors.<name>`."""
    declared = ", ".join(program.anchors) or "none"
    for name in given:
        if name not in program.anchors:
            raise ValidationError(f"anchors.{name}", f"program {program.id} has no such date (its anchors: {declared})")
    if required:
        for name in program.anchors:
            if name not in given:
                raise ValidationError(f"anchors.{name}", f"required: program {program.id} is timed from it")
    now, checked = deps.clock.now(), {}
    for name, at in given.items():
        try:
            checked[name] = aware(at, what=f"anchors.{name}")
        except ValueError as exc:
            raise ValidationError(f"anchors.{name}", str(exc)) from None
        if not now - ANCHOR_PAST <= checked[name] <= now + ANCHOR_AHEAD:
            raise ValidationError(f"anchors.{name}", "must be between 365 days ago and 730 days ahead")
    return checked


def check_start(deps: EngineDeps, start_at: datetime | None) -> None:
    if start_at is None:
        return
    now = deps.clock.now()
    if not now - timedelta(days=1) <= start_at <= now + timedelta(days=365):
        raise ValidationError("start_at", "must be between 1 day ago and 365 days ahead")


def check_consent(deps: EngineDeps, consent: Consent | None) -> None:
    """Consent cannot have been recorded in the future (beyond CONSENT_CLOCK_SKEW of our clock)."""
    if consent is not None and consent.recorded_at > deps.clock.now() + CONSENT_CLOCK_SKEW:
        minutes = int(CONSENT_CLOCK_SKEW.total_seconds() // 60)
        raise ValidationError("consent.recorded_at", f"must not be in the future (more than {minutes} minutes ahead)")


def to_new_enrollment(clinic_id: str, body: EnrollmentBody) -> NewEnrollment:
    consent = {str(ch): body.consent.recorded_at for ch in body.channels}
    return NewEnrollment(
        clinic_id=clinic_id,
        patient_ref=body.patient_ref,
        program=body.program,
        first_name=body.first_name,
        channels=tuple(body.channels),
        language=body.language,
        timezone=body.timezone,
        phone=body.phone if Channel.SMS in body.channels else None,
        email=body.email if Channel.EMAIL in body.channels else None,
        consent=consent,
        start_at=body.start_at,
        anchors=dict(body.anchors or {}),
    )


def parse_enrollment(clinic_id: str, payload: dict[str, Any], deps: EngineDeps) -> NewEnrollment:
    """Validate a raw payload (CLI, intake task); raises ValidationError naming the first bad field."""
    try:
        body = EnrollmentBody.model_validate(payload)
    except PydanticValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or _field_from_message(error["msg"])
        raise ValidationError(field, str(error["msg"]).removeprefix("Value error, ")) from None
    check_body(deps, body)
    return to_new_enrollment(clinic_id, body)


def to_changes(patch: EnrollmentPatch) -> EnrollmentChanges:
    return EnrollmentChanges(
        first_name=patch.first_name,
        phone=patch.phone,
        email=patch.email,
        language=patch.language,
        timezone=patch.timezone,
        channels=tuple(patch.channels) if patch.channels else None,
        consent=consent_given(patch.consent),
        anchors=None if patch.anchors is None else dict(patch.anchors),
    )


def consent_given(consent: Consent | None) -> dict[str, datetime] | None:
    """channel -> recorded_at for each channel `consent` says yes to (None: no consent given)."""
    if consent is None:
        return None
    return {ch: consent.recorded_at for ch in ("sms", "email") if getattr(consent, ch)}


def _field_from_message(message: str) -> str:
    match = re.match(r"(?:Value error, )?([a-z_.]+):", message)
    return match.group(1) if match else "body"
