"""A Batch: store calls gathered for one pipelined round trip, each answered by a typed Reply.

The send path and status build one batch per round trip: `store.batch()`, then calls that
return a `Reply` (read `.value` after `run()`) or nothing (writes). An empty batch costs no
round trip. Consecutive `reschedule` calls on one channel (a chunk's releases) go as one
release.lua call over the same keys, each entry checked against its own claim's token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

import worker.store.alerts as alerts
import worker.store.counters as counters
import worker.store.due as due
import worker.store.enrollments as enrollments
import worker.store.intake as intake
import worker.store.messages as messages
import worker.store.numbers as numbers
import worker.store.webhooks as webhooks
from worker.phi import IndexKey
from worker.records import MessageRecord, MessageState, OptOutSource
from worker.store.keys import OperatorIndex
from worker.store.ops import Call, Op
from worker.store.results import (
    AlertSummary,
    BeginSend,
    CountKey,
    DispatchInfo,
    DueCounts,
    FinishSend,
    MinuteCounts,
    Reservation,
    Retime,
)
from worker.store.tally import Tally, summable

T = TypeVar("T")
_UNSET: Any = object()


class Reply(Generic[T]):
    """The answer to one call in a batch, readable once the batch has run."""

    __slots__ = ("_value",)

    def __init__(self) -> None:
        self._value: T = _UNSET

    @property
    def value(self) -> T:
        if self._value is _UNSET:
            raise RuntimeError("the batch has not run yet")
        return self._value


class Batch:
    """Calls for one round trip, run in the order given."""

    def __init__(
        self, run: Callable[[Sequence[Op]], list[Any]], index: IndexKey, before_optouts: Callable[[], None]
    ) -> None:
        self._run = run
        self._index = index
        self._before_optouts = before_optouts  # the Store's one-time move of plain opt-outs
        self._ops: list[Op] = []
        self._calls: list[tuple[Call[Any], Reply[Any]]] = []
        self._tally = Tally()  # counter writes, summed and sent last (worker.store.tally)
        # Releases added one after another on one channel: (channel, release.lua triples, replies),
        # sent as one script call when another call comes, or at run().
        self._releases: tuple[str, list[str | int], list[Reply[bool]]] | None = None

    def run(self) -> None:
        """Send every call in one pipelined round trip and fill in their replies."""
        self._end_releases()
        summed = self._tally.call()
        if summed is not None:
            self._add_now(summed)
        ops, calls = self._ops, self._calls
        self._ops, self._calls = [], []
        raw, start = self._run(ops), 0
        for call, reply in calls:
            reply._value = call.parse(raw[start : start + len(call.ops)])
            start += len(call.ops)

    def _add(self, call: Call[T]) -> Reply[T]:
        if summable(call):
            self._tally.add(call)
            reply: Reply[T] = Reply()
            reply._value = None  # type: ignore[assignment]  # a summable call's type is Call[None]
            return reply
        return self._add_now(call)

    def _add_now(self, call: Call[T]) -> Reply[T]:
        self._end_releases()  # calls run in the order given
        reply: Reply[T] = Reply()
        self._ops.extend(call.ops)
        self._calls.append((call, reply))
        return reply

    # -- the send path ----------------------------------------------------------------------
    def reschedule(self, eid: str, channel: str, due_at: datetime | None, *, token: str = "") -> Reply[bool]:
        """Release the enrollment's claim on `channel` held by `token`; with `due_at`, put it back
        due then. False: the claim is no longer that token's (reaped, or claimed again)."""
        reply: Reply[bool] = Reply()
        if self._releases is None or self._releases[0] != channel:
            self._end_releases()
            self._releases = (channel, [], [])
        self._releases[1].extend(due.release_args(eid, due_at, token))
        self._releases[2].append(reply)
        return reply

    def _end_releases(self) -> None:
        """The releases gathered so far as one release.lua call (same keys, same checks per entry,
        in order: what one call each did, in one script run instead of one per entry)."""
        if self._releases is None:
            return
        channel, args, replies = self._releases
        self._releases = None
        many = due.release_many(channel, args)

        def fill(raw: list[Any]) -> None:
            for reply, released in zip(replies, many.parse(raw), strict=True):
                reply._value = released

        self._add_now(Call(many.ops, fill))

    def begin_send(self, mid: str, *, cursor: int | None, now: datetime, stale_s: int) -> Reply[BeginSend]:
        """Take message `mid`'s "sending" state, checked against the enrollment (cursor None: a
        resend, no cursor check); a "sending" older than `stale_s` is reported STALE."""
        return self._add(messages.begin_send(mid, cursor, now, stale_s))

    def begin_intro(self, mid: str, *, now: datetime, stale_s: int) -> Reply[BeginSend]:
        """Take introduction `mid`'s "sending" state, checked against the introduction waiting."""
        return self._add(messages.begin_send(mid, None, now, stale_s, intro=True))

    def finish_send(
        self,
        record: MessageRecord,
        *,
        cursor: int | None,
        next_due: datetime | None,
        history: Sequence[datetime],
        now: datetime,
        retention_s: int,
        timezone: str = "",
    ) -> Reply[FinishSend]:
        """Write `record`; with the `cursor` it was sent at, move the channel on (next due time
        `next_due` computed in `timezone`, recent sends `history`) and complete the enrollment
        after its last message."""
        return self._add(messages.finish_send(record, cursor, next_due, history, now, retention_s, timezone=timezone))

    def finish_intro(
        self, record: MessageRecord, *, history: Sequence[datetime], now: datetime, retention_s: int
    ) -> Reply[FinishSend]:
        """Write an introduction's `record`; once final, the number's lessons may go (INTRODUCED)."""
        return self._add(messages.finish_send(record, None, None, history, now, retention_s, intro=True))

    def retime(self, eid: str, channel: str, cursor: int, due_at: datetime | None) -> Reply[Retime]:
        """Set the channel's next due time, only while its cursor is still `cursor`."""
        return self._add(enrollments.retime(eid, channel, cursor, due_at))

    def generation_ended(self, first_eid: str, generation: int, retention_s: int) -> None:
        """A re-enrollment (`generation` > 0) completed: the pointer naming it expires with it."""
        self._add(enrollments.generation_ended(first_eid, generation, retention_s))

    def sms_opted_out(self, numbers: Sequence[str]) -> Reply[list[bool]]:
        self._before_optouts()
        return self._add(enrollments.sms_opted_out(self._index, numbers))

    def sms_opted_out_indexed(self, indexes: Sequence[str | None]) -> Reply[list[bool]]:
        """Whether each number, given by its blind index (None: no number), opted out of SMS."""
        self._before_optouts()
        return self._add(enrollments.sms_opted_out_indexed(indexes))

    def opt_out_sms(self, number: str, now: datetime, source: OptOutSource) -> None:
        """Opt `number` out of SMS from every clinic (an earlier opt-out's record stays)."""
        self._before_optouts()
        self._add(enrollments.opt_out_sms(self._index, number, now, source))

    def add_to_index(self, index: OperatorIndex, mid: str, now: datetime) -> None:
        """List `mid` for operators (unknown or failed)."""
        self._add(messages.add_to_index(index, mid, now))

    def count(self, state: MessageState, channel: str, program: str) -> None:
        """Count a message reaching `state` in the totals (status callbacks)."""
        self._add(counters.count(state, channel, program))

    def count_outcome(
        self, state: MessageState, channel: str, program: str, now: datetime, lateness_s: int | None = None
    ) -> None:
        """Count a send's outcome in the totals and in the minute of `now` (the last hours' figures),
        with a sent message's lateness in that minute's buckets."""
        self._tally.add_counts(*counters.outcome_counts(state, channel, program, now, lateness_s))

    # -- a recipient's caps and latest message (worker.store.numbers) ---------------------------
    def reserve_send(
        self,
        bi: str,
        mid: str,
        now: datetime,
        day: tuple[datetime, datetime],
        caps: tuple[int | None, int | None],
        ttl_s: int,
    ) -> Reply[Reservation]:
        """Reserve `mid`'s place in the recipient's sends if the caps (per day, per week) allow one
        more at `now` (`day`: the recipient's local day); atomic across workers. The recipient's
        record then expires `ttl_s` later at the soonest."""
        return self._add(numbers.reserve(bi, mid, now, day, caps, ttl_s))

    def release_send(self, bi: str, mid: str) -> None:
        """Give back `mid`'s reserved place: it was not handed to the provider after all."""
        self._add(numbers.release(bi, mid))

    def forget_number(self, bi: str, eid: str) -> None:
        """The number (blind index `bi`) no longer lists enrollment `eid`."""
        self._add(numbers.forget_enrollment(bi, eid))

    def note_last_message(self, bi: str, clinic_id: str, eid: str, at: datetime, ttl_s: int | None) -> None:
        """The number's latest SMS handed to the provider is `eid`'s (replies go to `clinic_id`);
        with `ttl_s`, its record expires that long after."""
        self._add(numbers.note_last(bi, clinic_id, eid, at, ttl_s))

    # -- reads for status and metrics --------------------------------------------------------
    def due_counts(self, channel: str, now: datetime, horizon: datetime) -> Reply[DueCounts]:
        return self._add(due.due_counts(channel, now, horizon))

    def in_flight(self, channel: str) -> Reply[int]:
        return self._add(due.in_flight(channel))

    def index_size(self, index: OperatorIndex) -> Reply[int]:
        return self._add(messages.index_size(index))

    def recent_outcomes(self, now: datetime, minutes: int) -> Reply[dict[str, int]]:
        """Messages by state over the last `minutes` minutes (caredrip clock)."""
        return self._add(counters.recent_outcomes(now, minutes))

    def minute_counts(self, now: datetime, minutes: int) -> Reply[list[MinuteCounts]]:
        """Each of the last `minutes` minutes, oldest first: outcomes and lateness buckets."""
        return self._add(counters.minute_counts(now, minutes))

    def totals(self) -> Reply[dict[CountKey, int]]:
        return self._add(counters.totals())

    def dispatch_info(self) -> Reply[DispatchInfo]:
        return self._add(counters.dispatch_info())

    def intake_failed_total(self) -> Reply[int]:
        """Intake tasks refused since the store began."""
        return self._add(intake.failed_total())

    def alert_summary(self) -> Reply[AlertSummary]:
        """Open red-flag alerts, and when the oldest was raised."""
        return self._add(alerts.summary())

    def queue_length(self, queue: str) -> Reply[int]:
        """Tasks waiting in a Celery queue on the broker (this same Redis)."""
        return self._add(counters.queue_length(queue))

    def webhook_figures(self) -> Reply[webhooks.WebhookFigures]:
        """Clinic-event deliveries waiting, in flight, given up, and their counters (status, /metrics)."""
        return self._add(webhooks.figures())
