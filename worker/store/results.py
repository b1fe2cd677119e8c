"""What store calls answer, typed; and the one place that reads the Lua scripts' answers.

The scripts answer with short strings (see each file's header under worker/lua/); callers get
these enums and dataclasses instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, NamedTuple

from worker.records import EnrollmentState, MessageRecord, OptOut, from_epoch_ms
from worker.store.codec import unpack_record


class BeginStatus(StrEnum):
    """begin_send.lua: may this message be handed to the provider now?"""

    OK = "ok"  # "sending" taken: send it
    BUSY = "busy"  # another worker is sending it
    STALE = "stale"  # a "sending" left behind long ago: the outcome is unknown
    DONE = "done"  # a final record exists but the cursor was not moved on: repair, send nothing
    GONE = "gone"  # no such enrollment
    INACTIVE = "inactive"  # paused, canceled or completed
    DROPPED = "dropped"  # the channel is no longer one of the enrollment's
    MOVED = "moved"  # the channel's cursor (or the introduction waiting) is no longer this message's
    OPTED_OUT = "opted_out"  # the patient opted out of this channel
    INTRO = "intro"  # the number awaits its introduction: nothing else goes to it first


@dataclass(frozen=True, slots=True)
class BeginSend:
    """begin_send.lua's answer: with OK the attempt this is; with DONE the final record found."""

    status: BeginStatus
    attempts: int = 0
    record: MessageRecord | None = None


@dataclass(frozen=True, slots=True)
class MinuteCounts:
    """One minute of `cd:stats:m:<minute>`: outcomes by state, sent messages by lateness bucket."""

    minute: datetime
    states: dict[str, int]
    late: dict[int, int]


class FinishResult(StrEnum):
    """finish_send.lua: what recording an outcome did to the enrollment."""

    RECORDED = "recorded"  # the record only (a retry or resend, or the enrollment is gone)
    SKIPPED = "skipped"  # a retry that may no longer go: recorded `skipped` with the reason
    MOVED = "moved"  # the cursor had moved on meanwhile: left as it was
    ADVANCED = "advanced"  # the cursor moved to the next step
    RETIMED = "retimed"  # moved on, but the timezone or anchors changed meanwhile: the next due time is stale
    INTRODUCED = "introduced"  # the number's introduction is done: its lessons may go
    COMPLETED = "completed"  # that was the last message: the enrollment is completed


@dataclass(frozen=True, slots=True)
class FinishSend:
    """finish_send.lua's answer; with RETIMED the enrollment's timezone now."""

    result: FinishResult
    timezone: str = ""


@dataclass(frozen=True, slots=True)
class Retime:
    """retime.lua: whether the due time was moved; if not, the cursor the channel is at now
    (None: no such enrollment or channel)."""

    done: bool
    cursor: int | None = None


class CallbackResult(StrEnum):
    """callback.lua: what a provider status callback did to its record."""

    UPDATED = "updated"
    STALE = "stale"  # an older or repeated report: the record already says as much or more
    MISSING = "missing"  # no such record
    PACKED = "packed"  # the record may be in an ended enrollment's packed chunks (the Store reads them)


@dataclass(frozen=True, slots=True)
class Created:
    """enroll.lua: whether the enrollment was created; if not, the stored one's state, or (asked of
    generation 0) the later generation that is the latest of its (clinic, patient_ref, program)."""

    created: bool
    state: EnrollmentState | None = None
    later_generation: int | None = None
    # asked with the create (`Store.create_enrollment(read_opt_outs=True)`): what `Store.opt_outs_of`
    # answers for the enrollment, read after the create in its round trip
    opt_outs: tuple[dict[str, OptOut], OptOut | None] | None = None


LifecycleAction = Literal["pause", "resume", "cancel"]


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """lifecycle.lua: the enrollment's state after a pause, resume or cancel, and whether it changed."""

    state: EnrollmentState
    changed: bool


class Claim(NamedTuple):
    """One due-index entry claimed for sending, with the due time it had and its claim's token."""

    enrollment_id: str
    due: datetime
    token: str = ""

    @property
    def handle(self) -> str:
        """What a send task carries for this entry: `<enrollment id>:<token>` (see `Lease`)."""
        return f"{self.enrollment_id}:{self.token}" if self.token else self.enrollment_id


class Lease(NamedTuple):
    """A claim as a send task holds it: the enrollment and the claim's token ('' for a bare id:
    no claim known). The token (claim.lua) says when the lease runs out (Unix seconds, Redis's
    clock) and how long it was."""

    enrollment_id: str
    token: str = ""

    @classmethod
    def parse(cls, handle: str) -> Lease:
        eid, _, token = handle.partition(":")
        return cls(eid, token)

    @property
    def expires_at(self) -> float | None:
        return self._part(0)

    @property
    def length_seconds(self) -> float | None:
        return self._part(1)

    def _part(self, index: int) -> float | None:
        parts = self.token.split("-")
        return int(parts[index]) / 1000 if len(parts) == 3 and parts[index].isdigit() else None


class DueCounts(NamedTuple):
    """One channel's due index: due now, due by a horizon, and the oldest due time (if any)."""

    due_now: int
    due_by_horizon: int
    oldest: datetime | None


@dataclass(frozen=True, slots=True)
class DispatchInfo:
    """The last dispatch run (None: never), how many runs and messages handed over so far."""

    last_at: datetime | None
    runs: int
    handed: int


class CountKey(NamedTuple):
    """What the message totals are counted by."""

    state: str
    channel: str
    program: str


def parse_begin(eid: str, field: str, raw: Any) -> BeginSend:
    """'ok:<attempt>' | 'done:<record>' | one of the other statuses."""
    status, _, rest = str(raw).partition(":")
    if status == BeginStatus.OK:
        return BeginSend(BeginStatus.OK, attempts=int(rest) if rest else 1)
    if status == BeginStatus.DONE:
        return BeginSend(BeginStatus.DONE, record=unpack_record(eid, field, rest))
    return BeginSend(BeginStatus(status))


def parse_created(raw: Any) -> Created:
    """'created' | 'gen:<n>' | '<state>'."""
    answer = str(raw)
    if answer == "created":
        return Created(True)
    if answer.startswith("gen:"):
        return Created(False, later_generation=int(answer[4:]))
    return Created(False, state=EnrollmentState(answer))


def parse_finish(raw: Any) -> FinishSend:
    """'<result>' | 'retimed:<timezone>' | 'retimed:<timezone>|<catch-up mark>'."""
    result, _, basis = str(raw).partition(":")
    return FinishSend(FinishResult(result), basis.partition("|")[0])


def parse_retime(raw: Any) -> Retime:
    """'ok' | 'moved:<cursor>' | 'gone'."""
    status, _, cursor = str(raw).partition(":")
    return Retime(status == "ok", int(cursor) if cursor.isdigit() else None)


def parse_claims(flat: list[Any]) -> list[Claim]:
    """claim.lua: [] | [token, member, due score, member, due score, ...]."""
    if not flat:
        return []
    token, rest = str(flat[0]), flat[1:]
    return [Claim(str(rest[i]), from_epoch_ms(float(rest[i + 1])), token) for i in range(0, len(rest), 2)]


def parse_lifecycle(raw: Any) -> Lifecycle | None:
    """'<state>:changed' | '<state>:same' | 'gone' (None)."""
    state, _, how = str(raw).partition(":")
    return None if state == "gone" else Lifecycle(EnrollmentState(state), how == "changed")


# -- recipients and replies (worker.store.numbers, worker.store.replies) -------------------------
class ReserveStatus(StrEnum):
    """reserve_send.lua: may one more message go to this recipient now?"""

    NEW = "new"  # reserved now: the caller owns this place and releases it if the message is not handed over
    HAD = "had"  # the message already holds a place (another attempt's): nothing changed, not the caller's
    HELD = "held"  # a cap is full: `sends` are the recipient's recent sends


@dataclass(frozen=True, slots=True)
class Reservation:
    """reserve_send.lua's answer: with HELD, the recipient's recent sends (oldest first)."""

    status: ReserveStatus
    sends: tuple[datetime, ...] = ()


@dataclass(frozen=True, slots=True)
class LastMessage:
    """The latest SMS handed to the provider for a number: whose, and when."""

    clinic_id: str
    enrollment_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class NumberRecord:
    """A number's routing record: its latest message (None: none yet) and the enrollments noted
    for it (enrollment id -> clinic id). Empty when the number is unknown."""

    last: LastMessage | None
    enrollments: dict[str, str]


@dataclass(frozen=True, slots=True)
class StoredReply:
    """A reply as stored: the body still sealed (aad: the reply id). `clinic_id` "" for an
    unmatched reply (the operators' inbox), which has `masked_sender` instead."""

    id: str
    clinic_id: str
    enrollment_id: str
    received_at: datetime
    sealed_body: str
    red_flag: bool
    acknowledged_at: datetime | None
    length: int
    sender_index: str = ""
    masked_sender: str = ""
    media: int = 0  # attachments Twilio reported (NumMedia): noted, never fetched


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """A red-flag alert, named by its reply's id: whose (clinic id, '' for the operators' inbox),
    about which enrollment ('' when unmatched), when raised, and when closed (None: open)."""

    reply_id: str
    clinic_id: str
    enrollment_id: str
    raised_at: datetime
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AlertSummary:
    """How many alerts are open, and when the oldest open one was raised (None: none open)."""

    open: int
    oldest_raised_at: datetime | None


@dataclass(frozen=True, slots=True)
class ErasedNumber:
    """What `erase_number` removed: the number's record and send history, and its replies."""

    replies: int


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry of the audit trail (worker.audit): its stream id (time-ordered), when, who, what,
    which enrollment ("" none) of which clinic ("" none), and a small detail (never PHI)."""

    id: str
    at: datetime
    actor: str
    action: str
    enrollment_id: str
    clinic_id: str
    detail: dict[str, Any]


class Reseal(StrEnum):
    """What re-sealing one record under the keyring's first key did (`caredrip keys rotate`)."""

    RESEALED = "resealed"  # it was under an older key
    SEALED = "sealed"  # it was stored plain (before sealing)
    CURRENT = "current"  # already under the first key: nothing written
    EMPTY = "empty"  # nothing to seal: gone, expired or erased


class SealedPage(NamedTuple):
    """One SCAN page: the next cursor (0: done), how many keys it held, the records among them."""

    cursor: int
    scanned: int
    enrollments: list[str]
    replies: list[str]
