"""The delivery package's own types, at its bottom: every other delivery module imports these."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from worker.channels.base import OutgoingMessage, Sender, SendResult
from worker.deps import EngineDeps
from worker.policy import Caps
from worker.programs import Program, Step
from worker.records import Enrollment, MessageState, message_id
from worker.render import Renderer

LEASE_SECONDS = 20  # the default of CAREDRIP_LEASE_SECONDS (worker/config/defaults.toml)


@dataclass(frozen=True)
class DeliveryDeps:
    """The engine's deps plus what sending needs: renderer, channels, caps, limits."""

    engine: EngineDeps
    renderer: Renderer
    channels: dict[str, Sender]
    caps: Caps
    public_base_url: str
    rate_per_second: dict[str, float]
    send_batch: int = 100
    lease_seconds: int = LEASE_SECONDS
    renew_leases: bool = True  # a send batch's heartbeat (worker.delivery.heartbeat); off only in fault tests
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random
    clinics: Callable[[str], dict[str, str]] = field(default=lambda _cid: {})

    @property
    def lease_ms(self) -> int:
        return self.lease_seconds * 1000

    def max_in_flight(self, channel: str) -> int:
        """Claim no more than the channel can send in half a lease (at most a minute): claimed
        messages then never wait in the queue long enough for their lease to run out."""
        horizon = min(60.0, self.lease_seconds / 2)
        return max(self.send_batch, min(self.send_batch * 20, int(self.rate_per_second[channel] * horizon)))


@dataclass
class Pending:
    """One message on its way: the enrollment, the step, and once rendered, the message.

    `token` is the claim the send task holds on the enrollment's due entry ('' none known);
    `intro` the number introduced when the message is an introduction (0: a lesson);
    `opted_out` that the channel was opted out when triaged, so it is only recorded, never sent;
    `late` that the program's catch-up policy skips it (worker.catchup): recorded `skipped`
    (`late`) through the same "sending" check, never sent.
    """

    enrollment: Enrollment
    program: Program
    step: Step
    cursor: int
    message: OutgoingMessage | None = None
    attempts: int = 1
    reserved_in: str | None = None  # the recipient (blind index) whose sends hold this message's place (caps)
    owns_place: bool = False  # this attempt reserved that place or took "sending": it may give it back
    token: str = ""
    intro: int = 0
    opted_out: bool = False
    late: bool = False
    # The recipient's blind index on this Pending's channel once computed (worker.delivery.recipients
    # .recipient): the caps and the chunk's opt-out lookup share it, one HMAC a message, not two.
    recipient_bi: str | None = field(default=None, repr=False)
    recipient_known: bool = field(default=False, repr=False)

    @property
    def unsent(self) -> bool:
        """Only recorded, never handed to a provider: opted out or skipped as late."""
        return self.opted_out or self.late

    def message_id(self, channel: str) -> str:
        return message_id(self.enrollment.id, self.step.id, channel, self.intro or 1)

    def due(self, channel: str) -> datetime | None:
        """When this message was due: an introduction when asked for, a lesson at its step's time."""
        e = self.enrollment
        return e.intro_asked if self.intro else e.next_due.get(channel)


@dataclass
class BatchOutcome:
    """How a batch went, by outcome; adds up to the batch's size."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str, n: int = 1) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + n

    @property
    def total(self) -> int:
        return sum(self.counts.values())


Finished = tuple[Pending, MessageState, SendResult | None, str]
