"""The JSON the HTTP API answers with, as pydantic models (so they appear in /openapi.json).

Request bodies are `worker.intake.EnrollmentBody` and `EnrollmentPatch`. Times are ISO 8601 with
an explicit UTC offset (`2026-03-02T15:00:00+00:00`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

from worker.records import Enrollment, EnrollmentState, MessageRecord, MessageState


def _iso(value: datetime) -> str:
    return value.isoformat()


ChannelName = Literal["sms", "email"]
Timestamp = Annotated[
    datetime,
    PlainSerializer(_iso, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class EnrollmentOut(BaseModel):
    """One enrollment as its clinic sees it."""

    id: str
    clinic_id: str
    patient_ref: str
    program: str
    state: EnrollmentState
    channels: list[ChannelName]
    language: str
    timezone: str
    first_name: str
    phone: str | None = Field(description="E.164, as the clinic gave it")
    email: str | None
    created_at: Timestamp
    next_message_at: Timestamp | None = Field(description="When the next message is due; null if none")
    ended_at: Timestamp | None


class MessageOut(BaseModel):
    """One message's record."""

    id: str
    step: str
    channel: ChannelName
    state: MessageState
    at: Timestamp | None = Field(description="When the message last changed state")
    provider_id: str | None
    reason: str | None
    attempts: int


class MessagesOut(BaseModel):
    enrollment_id: str
    messages: list[MessageOut]


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    redis: bool


class ErrorOut(BaseModel):
    detail: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    detail: list[FieldError]


def enrollment_out(enrollment: Enrollment, *, sms_opted_out: bool = False) -> EnrollmentOut:
    """`next_message_at`: the earliest next message among the channels still sending to."""
    return EnrollmentOut(
        id=enrollment.id,
        clinic_id=enrollment.clinic_id,
        patient_ref=enrollment.patient_ref,
        program=enrollment.program,
        state=enrollment.state,
        channels=[cast(ChannelName, ch) for ch in enrollment.channels],
        language=enrollment.language,
        timezone=enrollment.timezone,
        first_name=enrollment.first_name,
        phone=enrollment.phone,
        email=enrollment.email,
        created_at=enrollment.created_at,
        next_message_at=next_message_at(enrollment, sms_opted_out=sms_opted_out),
        ended_at=enrollment.ended_at,
    )


def next_message_at(enrollment: Enrollment, *, sms_opted_out: bool = False) -> datetime | None:
    if enrollment.state is not EnrollmentState.ACTIVE:
        return None
    dues = [
        due
        for ch, due in enrollment.next_due.items()
        if due is not None and not enrollment.opted_out.get(ch) and not (ch == "sms" and sms_opted_out)
    ]
    return min(dues, default=None)


def messages_out(eid: str, records: list[MessageRecord]) -> MessagesOut:
    return MessagesOut(
        enrollment_id=eid,
        messages=[
            MessageOut(
                id=r.id,
                step=r.step,
                channel=cast(ChannelName, r.channel),
                state=r.state,
                at=r.at,
                provider_id=r.provider_id or None,
                reason=r.reason or None,
                attempts=r.attempts,
            )
            for r in records
        ],
    )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing, unknown or revoked clinic key"},
    404: {"model": ErrorOut, "description": "No such enrollment for this clinic"},
    413: {"model": ErrorOut, "description": "Request body larger than 64 KiB"},
    422: {"model": ValidationErrorOut, "description": "Invalid input; `loc` names the field"},
}
