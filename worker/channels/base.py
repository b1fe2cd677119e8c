"""The small interface every channel's sender implements (`Sender`), and the message it is handed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from worker.errors import ChannelError
from worker.records import Channel


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One rendered message, ready for a provider. `to` is an E.164 number or an email address."""

    id: str
    enrollment_id: str
    clinic_id: str
    program: str
    step: str
    channel: Channel
    to: str
    body: str
    language: str
    timezone: str
    due_at: datetime
    subject: str | None = None
    html: str | None = None
    segments: int | None = None
    encoding: str | None = None
    unsubscribe_url: str | None = None
    status_callback_url: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the provider said: its own id for the message (Twilio SID, SMTP Message-ID)."""

    provider_id: str
    sent_at: datetime


class Sender(Protocol):
    """Hands rendered messages to a provider.

    `send` raises TransientChannelError (retry later), PermanentChannelError (fail now) or
    AmbiguousChannelError (maybe sent: state unknown). `batch_size` is how many messages the
    engine marks "sending" together (a chunk) before handing them to `send_many`; `parallelism`
    is how many messages of one batch may be with the provider at once (1 for a local file, more
    for network waits): chunks of one message go `parallelism` at a time, a chunk as large as
    `parallelism` alone. A `send_many` may itself make its chunk's calls at once
    (worker.channels.calls).
    """

    name: str
    batch_size: int
    parallelism: int

    def send(self, message: OutgoingMessage, *, now: datetime) -> SendResult: ...

    def send_many(self, messages: list[OutgoingMessage], *, now: datetime) -> list[SendResult | Exception]:
        """Send several; one result or exception per message, in order."""
        ...

    def close(self) -> None: ...


def send_each(
    send: Callable[[OutgoingMessage], SendResult], messages: list[OutgoingMessage]
) -> list[SendResult | Exception]:
    """`send_many` for channels that make one provider call per message: a failed call becomes
    that message's result, and the rest of the batch still goes."""
    results: list[SendResult | Exception] = []
    for message in messages:
        try:
            results.append(send(message))
        except ChannelError as exc:
            results.append(exc)
    return results
