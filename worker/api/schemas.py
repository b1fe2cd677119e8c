"""The API's request and response schemas, as pydantic models (so they appear in /openapi.json).

Request bodies (`EnrollmentBody`, `EnrollmentPatch`, `Consent`) are defined in `worker.intake`
and re-exported here: the CLI and the Celery intake task validate through the same models, and
they must not import FastAPI (importing anything under `worker.api` builds the app). Times are
ISO 8601 with an explicit UTC offset (`2026-03-02T15:00:00+00:00`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

from worker.enrollment_view import EnrollmentView
from worker.inbox import Reply, ReplyPage
from worker.intake import Consent, EnrollmentBody, EnrollmentPatch
from worker.optouts import OptOut, OptOutSource
from worker.records import Channel, EnrollmentState, MessageRecord, MessageState, PausedReason

__all__ = [
    "ERROR_RESPONSES",
    "Consent",
    "EnrollmentBody",
    "EnrollmentOut",
    "EnrollmentPatch",
    "ErrorOut",
    "Health",
    "MessagesOut",
    "RepliesOut",
    "ReplyOut",
    "enrollment_out",
    "messages_out",
    "replies_out",
    "reply_out",
]


def _iso(value: datetime) -> str:
    return value.isoformat()


Timestamp = Annotated[
    datetime,
    PlainSerializer(_iso, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class ConsentOut(BaseModel):
    """A channel's consent, as the clinic recorded it."""

    recorded_at: Timestamp


class OptOutOut(BaseModel):
    """A channel's opt-out: when, and by which source (`stop`: the patient texted STOP;
    `provider`: the carrier refused with 21610; `unsubscribe`: the email link). Both are null only
    for an opt-out stored before caredrip kept them."""

    at: Timestamp | None
    source: OptOutSource | None


class OptOutsOut(BaseModel):
    sms: OptOutOut | None = Field(description="null: the number takes SMS")
    email: OptOutOut | None = Field(description="null: not unsubscribed from email")


class EnrollmentOut(BaseModel):
    """One enrollment as its clinic sees it."""

    id: str
    clinic_id: str
    patient_ref: str
    program: str
    state: EnrollmentState
    paused_reason: PausedReason | None = Field(description="Why a paused enrollment is paused; null otherwise")
    channels: list[Channel]
    language: str
    timezone: str
    first_name: str
    phone: str | None = Field(description="E.164, as the clinic gave it")
    email: str | None
    consent: dict[Channel, ConsentOut] = Field(description="Each consented channel; a channel without is absent")
    opt_outs: OptOutsOut
    created_at: Timestamp
    next_message_at: Timestamp | None = Field(description="When the next message is due; null if none")
    ended_at: Timestamp | None
    anchors: dict[str, Timestamp] = Field(
        default_factory=dict, description="The dates the program is timed from (e.g. visit), as given; {} if none"
    )


class MessageOut(BaseModel):
    """One message's record."""

    id: str
    step: str
    channel: Channel
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


def _opt_out(value: OptOut | None) -> OptOutOut | None:
    return None if value is None else OptOutOut(at=value.at, source=value.source)


def enrollment_out(view: EnrollmentView) -> EnrollmentOut:
    e = view.enrollment
    return EnrollmentOut(
        id=e.id,
        clinic_id=e.clinic_id,
        patient_ref=e.patient_ref,
        program=e.program,
        state=e.state,
        paused_reason=view.paused_reason,
        channels=[Channel(ch) for ch in e.channels],
        language=e.language,
        timezone=e.timezone,
        first_name=e.first_name,
        phone=e.phone,
        email=e.email,
        consent={Channel(ch): ConsentOut(recorded_at=at) for ch, at in view.consent.items()},
        opt_outs=OptOutsOut(sms=_opt_out(view.opt_outs.get("sms")), email=_opt_out(view.opt_outs.get("email"))),
        created_at=e.created_at,
        next_message_at=view.next_message_at,
        ended_at=e.ended_at,
        anchors=dict(e.anchors),
    )


def messages_out(eid: str, records: list[MessageRecord]) -> MessagesOut:
    return MessagesOut(
        enrollment_id=eid,
        messages=[
            MessageOut(
                id=r.id,
                step=r.step,
                channel=Channel(r.channel),
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


# -- the clinic's inbox (GET /v1/replies, POST /v1/replies/{id}/ack; worker.inbox) ---------------
class ReplyOut(BaseModel):
    """A patient's reply to the clinic's messages."""

    id: str = Field(description="Opaque; acknowledge it with POST /v1/replies/{id}/ack")
    enrollment_id: str = Field(description="The enrollment whose latest message the number received")
    received_at: Timestamp
    body: str = Field(description="As the patient sent it (at most 1,600 characters; may be empty)")
    red_flag: bool = Field(description="The reply matched the program's warning signs")
    acknowledged_at: Timestamp | None = Field(description="When the clinic acknowledged it; null until then")


class RepliesOut(BaseModel):
    """One page of the clinic's replies, newest first."""

    replies: list[ReplyOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page")


def reply_out(reply: Reply) -> ReplyOut:
    return ReplyOut(
        id=reply.id,
        enrollment_id=reply.enrollment_id,
        received_at=reply.received_at,
        body=reply.body,
        red_flag=reply.red_flag,
        acknowledged_at=reply.acknowledged_at,
    )


def replies_out(page: ReplyPage) -> RepliesOut:
    return RepliesOut(replies=[reply_out(r) for r in page.replies], next_cursor=page.next_cursor)
