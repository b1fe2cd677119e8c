"""The typed records caredrip keeps: channels, enrollments and messages, with their states."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


class Channel(StrEnum):
    """The ways caredrip reaches a patient; the one definition of the channel set."""

    SMS = "sms"
    EMAIL = "email"

    @property
    def contact_field(self) -> str:
        """The enrollment field holding this channel's address: `phone` or `email`."""
        return "phone" if self is Channel.SMS else "email"

    def address(self, phone: str | None, email: str | None) -> str | None:
        """This channel's address among a patient's phone and email."""
        return phone if self is Channel.SMS else email


CHANNELS: tuple[Channel, ...] = tuple(Channel)


class EnrollmentState(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    CANCELED = "canceled"
    COMPLETED = "completed"


class PausedReason(StrEnum):
    """Why an enrollment is paused: its clinic paused it, a reply raised a red flag, or the
    patient texted PAUSE. A stronger reason replaces a weaker one on a paused enrollment
    (patient < clinic < red_flag), never the other way round."""

    CLINIC = "clinic"
    RED_FLAG = "red_flag"
    PATIENT = "patient"


class MessageState(StrEnum):
    """A message's life: queued/retrying -> sending -> sent -> delivered | undelivered | failed.

    `unknown`: the provider may or may not have it (a crash or timeout mid-call); never re-sent
    automatically. `skipped`: not sent on purpose (opted out, unrenderable). `failed`: refused.
    """

    QUEUED = "queued"
    RETRYING = "retrying"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"


@dataclass(slots=True)
class Enrollment:
    """One patient in one program for one clinic. Per-channel fields are keyed by channel.

    `consent`: each consented channel -> when the clinic recorded the patient's consent.
    `generation`: 0 for the first enrollment of (clinic, patient_ref, program); each enrollment
    after an earlier one ended is the next generation.
    """

    id: str
    clinic_id: str
    patient_ref: str
    program: str
    first_name: str
    phone: str | None
    email: str | None
    channels: tuple[str, ...]
    language: str
    timezone: str
    state: EnrollmentState
    anchor: datetime
    created_at: datetime
    consent: dict[str, datetime] = field(default_factory=dict)
    cursor: dict[str, int] = field(default_factory=dict)
    next_due: dict[str, datetime | None] = field(default_factory=dict)
    history: dict[str, list[datetime]] = field(default_factory=dict)
    opted_out: dict[str, bool] = field(default_factory=dict)
    ended_at: datetime | None = None
    generation: int = 0
    # SMS numbers introduced (the clinic and STOP/HELP before any lesson; worker.introductions),
    # counting one still waiting to go, and when that one was asked for (None: none waiting).
    intros: int = 0
    intro_asked: datetime | None = None
    paused_reason: PausedReason | None = None  # while paused (an older pause without one: the clinic's)
    # The program version it started on and follows to its end (worker.program_versions).
    version: int = 1
    # The clinic's dates the program is timed from (`visit` -> when), sealed with the details;
    # and when they last changed or a pause last ended (worker.catchup; None: never).
    anchors: dict[str, datetime] = field(default_factory=dict)
    late_mark: datetime | None = None
    anchors_moved_at: datetime | None = None  # when a PATCH last moved an anchor (explain's `anchor` rule)

    @property
    def catch_up_mark(self) -> datetime:
        """Steps due before this instant are late (worker.catchup): the creation, or the last
        anchor change or resume."""
        return max(self.created_at, self.late_mark) if self.late_mark else self.created_at

    @property
    def timing_basis(self) -> str:
        """What its due times were computed from, as finish_send.lua compares it: the timezone,
        and the last anchor change or resume (`<tz>|<epoch s>`)."""
        return self.timezone if self.late_mark is None else f"{self.timezone}|{epoch_s(self.late_mark)}"


@dataclass(frozen=True, slots=True)
class EnrollmentUpdate:
    """A change to a stored enrollment's details: contact, language, timezone, channels.

    Cursors of channels that stay are not part of it (a send finishing meanwhile owns them):
    `due` holds the due times written as they are (channels added, or moved), `started` the channels
    added (their first cursor; no send history), `dropped` the channels removed (they get no next
    due time); `intro` the number of an SMS introduction to send before the next lesson, if any;
    `consent`: every channel's consent after the change when it records a new one, else None.
    """

    first_name: str
    phone: str | None
    email: str | None
    language: str
    timezone: str
    channels: tuple[str, ...]
    at: datetime
    due: dict[str, datetime | None] = field(default_factory=dict)
    started: dict[str, int] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()
    consent: dict[str, datetime] | None = None
    intro: int | None = None
    anchors: dict[str, datetime] | None = None  # every anchor after the change, when one changes
    late_mark: datetime | None = None  # the anchors changed: steps due before this are late


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """What happened to one message; `at` is when it last changed state (caredrip clock)."""

    enrollment_id: str
    step: str
    channel: str
    occurrence: int
    state: MessageState
    at: datetime | None
    lateness_seconds: int | None = None
    provider_id: str = ""
    reason: str = ""
    attempts: int = 1

    @property
    def id(self) -> str:
        return message_id(self.enrollment_id, self.step, self.channel, self.occurrence)


def message_id(enrollment_id: str, step: str, channel: str, occurrence: int = 1) -> str:
    """Deterministic: the same enrollment, step, channel and occurrence give the same id."""
    return f"{enrollment_id}.{step}.{channel}.{occurrence}"


def parse_message_id(value: str) -> tuple[str, str, str, int]:
    """(enrollment id, step, channel, occurrence); raises ValueError on anything else."""
    parts = value.split(".")
    if len(parts) != 4 or parts[2] not in CHANNELS or not parts[3].isdigit():
        raise ValueError(f"not a message id: {value!r}")
    return parts[0], parts[1], parts[2], int(parts[3])


def epoch_s(dt: datetime) -> int:
    return int(dt.timestamp())


def epoch_ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def from_epoch_s(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def from_epoch_ms(value: float) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


# -- opt-outs (added with worker/optouts.py) -----------------------------------------------------
class OptOutSource(StrEnum):
    """Who opted a channel out: the patient's STOP, the provider's 21610, or an email link."""

    STOP = "stop"
    PROVIDER = "provider"
    UNSUBSCRIBE = "unsubscribe"


@dataclass(frozen=True, slots=True)
class OptOut:
    """One channel's opt-out: when it took effect and by which source (both None only for an
    opt-out stored before caredrip kept them)."""

    at: datetime | None
    source: OptOutSource | None
