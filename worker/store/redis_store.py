"""The Store: caredrip's one door to Redis for enrollments, the due index, messages and counters.

Each method is one round trip (two where it says so) built from the concern modules beside it
(enrollments, due, messages, counters, shared); `batch()` gathers several for one round trip.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

import redis

import worker.store.counters as counters
import worker.store.due as due
import worker.store.enrollments as enrollments
import worker.store.messages as messages
import worker.store.shared as shared
from worker.records import Enrollment, EnrollmentUpdate, MessageRecord, MessageState, OptOut, OptOutSource
from worker.store.batch import Batch
from worker.store.keys import OperatorIndex
from worker.store.ops import Call, Runner
from worker.store.results import (
    BeginSend,
    CallbackResult,
    Claim,
    CountKey,
    DispatchInfo,
    Lifecycle,
    LifecycleAction,
    Retime,
)

T = TypeVar("T")


class Store:
    """Wraps one redis-py client (decode_responses=True). `redis` is there for tests and benchmarks
    that check or seed what is stored; caredrip's own code goes through the methods."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._runner = Runner(client)

    # -- plumbing ---------------------------------------------------------------------------
    def _call(self, call: Call[T]) -> T:
        return self._runner.call(call)

    def batch(self) -> Batch:
        """Calls gathered for one round trip (see worker.store.batch)."""
        return Batch(self._runner.run)

    def load_scripts(self) -> None:
        self._runner.load()

    def ping(self) -> bool:
        return bool(self.redis.ping())

    def close(self) -> None:
        self.redis.close()

    # -- enrollments ------------------------------------------------------------------------
    def create_enrollment(self, enrollment: Enrollment, *, phone_clinic: str | None = None) -> bool:
        """Store `enrollment` unless its id exists, schedule each channel and (with `phone_clinic`)
        note the clinic of its phone, in one round trip; True when created.

        The due entries go out with the create (ZADD NX), whether or not it creates: for an
        enrollment that already existed they are either already there (NX: unchanged) or a
        harmless hint — dispatch re-reads the enrollment and releases an inactive one or moves
        the entry to its real due time. So a new enrollment costs one round trip, not two.
        """
        return self._call(enrollments.create(enrollment, phone_clinic))

    def get_enrollment(self, eid: str) -> Enrollment | None:
        return self.get_enrollments([eid])[0]

    def get_enrollments(self, eids: Sequence[str]) -> list[Enrollment | None]:
        return self._call(enrollments.get_many(eids))

    def update_enrollment(self, eid: str, change: EnrollmentUpdate) -> None:
        self._call(enrollments.update(eid, change))

    def retime(self, eid: str, channel: str, cursor: int, due: datetime | None) -> Retime:
        """Set the channel's next due time, only while its cursor is still `cursor` (else the
        cursor it is at now)."""
        return self._call(enrollments.retime(eid, channel, cursor, due))

    def lifecycle(self, eid: str, action: LifecycleAction, now: datetime, retention_s: int) -> Lifecycle | None:
        """'pause', 'resume' or 'cancel': the state afterwards and whether it changed; None: gone."""
        return self._call(enrollments.lifecycle(eid, action, now, retention_s))

    def opt_out_channel(self, eid: str, channel: str, now: datetime, source: OptOutSource) -> None:
        """Opt one enrollment out of `channel` (an earlier opt-out's record stays)."""
        self._call(enrollments.opt_out_channel(eid, channel, now, source))

    def channel_opt_outs(self, eid: str, channels: Sequence[str]) -> dict[str, OptOut]:
        """The enrollment's own opt-outs among `channels` (email unsubscribe), by channel."""
        return self._call(enrollments.channel_opt_outs(eid, channels))

    # -- the due index ----------------------------------------------------------------------
    def schedule_all(self, enrollment: Enrollment, *, only_missing: bool = False) -> None:
        """Put each channel with a next message into its due index (NX: an entry stays put);
        `only_missing` skips channels with an entry, due or leased (a round trip per channel)."""
        if only_missing:
            scheduled = {ch: at for ch, at in enrollment.next_due.items() if at is not None}
            missing: dict[str, datetime | None] = {
                ch: at for ch, at in scheduled.items() if not self._call(due.indexed(enrollment.id, ch))
            }
            enrollment = replace(enrollment, next_due=missing)
        self._call(due.schedule(enrollment))

    def unschedule(self, eid: str, channels: Iterable[str]) -> None:
        self._call(due.unschedule(eid, channels))

    def claim(self, channel: str, now: datetime, limit: int, lease_ms: int) -> list[Claim]:
        """Lease up to `limit` entries due by `now`, under one new claim token."""
        return self._call(due.claim(channel, now, limit, lease_ms, secrets.token_hex(4)))

    def reap(self, channel: str, now: datetime, limit: int = 1000) -> int:
        return self._call(due.reap(channel, now, limit))

    def in_flight(self, channel: str) -> int:
        return self._call(due.in_flight(channel))

    # -- messages ---------------------------------------------------------------------------
    def begin_send(self, mid: str, *, cursor: int | None, now: datetime, stale_s: int) -> BeginSend:
        return self._call(messages.begin_send(mid, cursor, now, stale_s))

    def end_pending(self, eid: str, channel: str, reason: str, now: datetime) -> int:
        """End the channel's `retrying` or `queued` records as `skipped` for `reason`; how many."""
        return self._call(messages.end_pending(eid, channel, reason, now))

    def records(self, eid: str) -> list[MessageRecord]:
        return self._call(messages.records(eid))

    def record(self, mid: str) -> MessageRecord | None:
        return self._call(messages.record(mid))

    def apply_callback(self, mid: str, state: MessageState, reason: str, now: datetime) -> CallbackResult:
        return self._call(messages.apply_callback(mid, state, reason, now))

    def indexed_messages(self, index: OperatorIndex, limit: int = 1000) -> list[str]:
        return self._call(messages.indexed_messages(index, limit))

    def drop_from_index(self, index: OperatorIndex, mid: str) -> None:
        self._call(messages.drop_from_index(index, mid))

    # -- opt-outs, numbers, replies ---------------------------------------------------------
    def sms_opted_out(self, numbers: Sequence[str]) -> list[bool]:
        return self._call(enrollments.sms_opted_out(numbers))

    def sms_opt_outs(self, numbers: Sequence[str]) -> list[OptOut | None]:
        """Each number's SMS opt-out (when, by which source), or None where it takes SMS."""
        return self._call(enrollments.sms_opt_outs(numbers))

    def opt_out_sms(self, number: str, now: datetime, source: OptOutSource = OptOutSource.STOP) -> None:
        """Opt `number` out of SMS from every clinic (an earlier opt-out's record stays)."""
        self._call(enrollments.opt_out_sms(number, now, source))

    def opt_in_sms(self, number: str) -> None:
        self._call(enrollments.opt_in_sms(number))

    # -- webhook replay guard (worker/replays.py) ---------------------------------------------
    def first_sighting(self, kind: str, ident: str, ttl_s: int) -> bool:
        """True the first time (`kind`, `ident`) is seen within `ttl_s` seconds."""
        return self._call(shared.first_sighting(kind, ident, ttl_s))

    def forget_sighting(self, kind: str, ident: str) -> None:
        """Undo a first sighting whose action failed, so the provider's retry can act."""
        self._call(shared.forget_sighting(kind, ident))

    def remember_phone(self, number: str, clinic_id: str) -> None:
        """Note `clinic_id` as the clinic of `number`'s latest enrollment (HELP names it)."""
        self._call(enrollments.remember_phone(number, clinic_id))

    def clinic_for_phone(self, number: str) -> str | None:
        return self._call(enrollments.clinic_for_phone(number))

    def push_inbox(self, clinic_id: str, entry: str) -> None:
        """Keep a patient's reply (JSON text) for the clinic; only the latest 1000 stay."""
        self._call(enrollments.push_inbox(clinic_id, entry))

    def inbox(self, clinic_id: str, limit: int = 100) -> list[str]:
        return self._call(enrollments.inbox(clinic_id, limit))

    # -- counters and the dispatch heartbeat ------------------------------------------------
    def stats_totals(self) -> dict[CountKey, int]:
        """Messages that reached each state, by (state, channel, program), since the store began."""
        return self._call(counters.totals())

    def note_dispatch(self, now: datetime, handed: int) -> None:
        """Record a finished dispatch run: operators see when the last one ran (beat alive?)."""
        self._call(counters.note_dispatch(now, handed))

    def dispatch_info(self) -> DispatchInfo:
        return self._call(counters.dispatch_info())

    # -- shared by every process: rate limit, locks, clock origin, secret -------------------
    def reserve(self, channel: str, count: int, interval_us: int, burst_us: int, max_wait_us: int | None = None) -> int:
        """Reserve `count` sends on the channel's shared limit; microseconds to wait first, or -1
        (nothing reserved) when that would be more than `max_wait_us`."""
        return self._call(shared.reserve(channel, count, interval_us, burst_us, max_wait_us))

    def acquire_lock(self, name: str, ttl_ms: int) -> str | None:
        """A short lock (SET NX PX); its token releases it, so an expired holder frees no one else's."""
        token = secrets.token_hex(8)
        return token if self._call(shared.take_lock(name, token, ttl_ms)) else None

    def release_lock(self, name: str, token: str) -> None:
        """Two round trips: drop the lock only while `token` still holds it."""
        if self._call(shared.lock_holder(name)) == token:
            self._call(shared.drop_lock(name))

    def clock_origin(self, real_origin: float, scale: float, *, replace: bool = False) -> tuple[float, float]:
        """The shared scaled clock's (real origin, scale): the stored pair, or this one stored
        first when there is none (with `replace`, in any case)."""
        real, stored_scale = self._call(shared.clock_origin(f"{real_origin}:{scale}", replace=replace)).split(":")
        return float(real), float(stored_scale)

    def shared_secret(self, candidate: str) -> str:
        """The secret for derived ids and tokens every process shares; `candidate` becomes it
        when there is none yet."""
        return self._call(shared.shared_secret(candidate))

