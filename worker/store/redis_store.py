"""The Store: caredrip's one door to Redis for enrollments, the due index, messages, recipients,
replies and counters.

Each method is one round trip (more where it says so) built from the concern modules beside it
(enrollments, due, messages, numbers, replies, counters, shared, sealed); `batch()` gathers
several for one round trip. The Store holds the PHI keyring and the blind-index key: it seals a
patient's details as it writes them and opens them as it reads, and keys SMS opt-outs by the
number's blind index, so no caller handles either.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

import redis

import worker.store.alerts as alerts
import worker.store.audit as audit
import worker.store.bulk as bulk
import worker.store.census as census
import worker.store.clinic_enrollments as clinic_enrollments
import worker.store.counters as counters
import worker.store.due as due
import worker.store.enrollments as enrollments
import worker.store.erasure as erasure
import worker.store.intake as intake
import worker.store.messages as messages
import worker.store.numbers as numbers
import worker.store.replies as replies
import worker.store.resumes as resumes
import worker.store.sealed as sealed
import worker.store.shared as shared
import worker.store.webhooks as webhooks
from worker.phi import IndexKey, Keyring
from worker.records import (
    CHANNELS,
    Enrollment,
    EnrollmentState,
    EnrollmentUpdate,
    MessageRecord,
    MessageState,
    OptOut,
    OptOutSource,
    parse_message_id,
)
from worker.store.batch import Batch
from worker.store.keys import OperatorIndex
from worker.store.ops import Call, Op, Runner, pair
from worker.store.results import (
    AlertSummary,
    AuditEntry,
    BeginSend,
    CallbackResult,
    Claim,
    CountKey,
    Created,
    DispatchInfo,
    ErasedNumber,
    Lifecycle,
    LifecycleAction,
    NumberRecord,
    Reseal,
    Retime,
    SealedPage,
    StoredAlert,
    StoredReply,
)

T = TypeVar("T")


class Store:
    """Wraps one redis-py client (decode_responses=True), with the keyring that seals patients'
    details (CAREDRIP_DATA_KEYS) and the key of blind indexes. `redis` is there for tests and
    benchmarks that check or seed what is stored; caredrip's own code goes through the methods."""

    def __init__(self, client: redis.Redis, keyring: Keyring, index: IndexKey) -> None:
        self.redis = client
        self.keyring = keyring
        self.index = index
        self._runner = Runner(client)
        self._optouts_moved = False

    # -- plumbing ---------------------------------------------------------------------------
    def _call(self, call: Call[T]) -> T:
        return self._runner.call(call)

    def batch(self) -> Batch:
        """Calls gathered for one round trip (see worker.store.batch)."""
        return Batch(self._runner.run, self.index, self._plain_optouts_moved)

    def load_scripts(self) -> None:
        self._runner.load()

    def ping(self) -> bool:
        return bool(self.redis.ping())

    def close(self) -> None:
        self.redis.close()

    # -- enrollments ------------------------------------------------------------------------
    def create_enrollment(
        self,
        enrollment: Enrollment,
        *,
        number_index: str | None = None,
        ttl_s: int = 0,
        audit_entry: AuditEntry | None = None,
        read_opt_outs: bool = False,
    ) -> Created:
        """Store `enrollment` unless its id exists or, for generation 0, a later generation of it
        does; schedule each channel and (with `number_index`, the blind index of its phone) note it
        for that number, in one round trip. The answer says whether it created, else the stored
        one's state or the later generation to look at.

        The due entries go out with the create (ZADD NX), whether or not it creates: for an
        enrollment that already existed they are either already there (NX: unchanged) or a
        harmless hint — dispatch re-reads the enrollment and releases an inactive one or moves
        the entry to its real due time (the engine also removes the hint of an ended one). So a
        new enrollment costs one round trip, not two. A repeat changes nothing else: a number note
        it added for another number than the stored enrollment's is taken back at once (two more
        round trips, only then). The stored enrollment's own number keeps its note, whichever of
        two identical requests racing wrote it.

        `audit_entry` (the new enrollment's, worker.audit) is appended in the same round trip, kept
        `ttl_s`, and taken back at once (one more round trip) when nothing was created; so is the
        record that listed it under its clinic (worker.store.clinic_enrollments).

        `read_opt_outs`: the answer's `opt_outs` are what `opt_outs_of` answers for `enrollment`
        (its own opt-outs of every channel, its number's SMS opt-out), read after the create's
        writes in the same round trip (POST /v1/enrollments shows them: one round trip less).
        """
        create = enrollments.create(self.keyring, enrollment, number_index, ttl_s)
        entry: Call[str | None] = Call((), _no_entry)
        if audit_entry is not None:
            appended = audit.append(audit_entry, ttl_s * 1000)
            entry = Call(appended.ops, appended.parse)
        read = self._opt_outs_read(enrollment.id, CHANNELS, enrollment.phone) if read_opt_outs else None
        if read is None:
            (created, noted, listed), entry_id = self._call(pair(create, entry))
        else:
            ((created, noted, listed), entry_id), opt_outs = self._call(pair(pair(create, entry), read))
            created = replace(created, opt_outs=opt_outs)
        taken_back: list[Op] = []
        if entry_id is not None and audit_entry is not None and not created.created:
            taken_back += audit.withdraw(entry_id, audit_entry.clinic_id).ops
        if listed is not None and not created.created:
            taken_back += clinic_enrollments.withdraw(enrollment, listed).ops
        self._runner.run(taken_back)
        if noted and not created.created and number_index is not None:
            stored = self.get_enrollment(enrollment.id)
            if stored is None or stored.phone != enrollment.phone:
                self._call(numbers.forget_enrollment(number_index, enrollment.id))
        return created

    def create_enrollments(self, items: Sequence[tuple[Enrollment, str | None]], *, ttl_s: int) -> list[Created]:
        """`create_enrollment` of each (enrollment, blind index of its phone or None), all in one
        round trip (bulk intake); the number notes a repeat added for another number than the
        stored enrollment's are taken back as `create_enrollment` does (two more round trips,
        only when there are any)."""
        answers = self._call(bulk.create_many(self.keyring, items, ttl_s))
        self._runner.run(
            [
                op
                for (e, _), (made, _, listed) in zip(items, answers, strict=True)
                if listed is not None and not made.created
                for op in clinic_enrollments.withdraw(e, listed).ops
            ]
        )
        repeats = [
            (e, bi) for (e, bi), (made, noted, _) in zip(items, answers, strict=True) if noted and not made.created
        ]
        if repeats:
            stored = self.get_enrollments([e.id for e, _ in repeats])
            stray = [(e, bi) for (e, bi), s in zip(repeats, stored, strict=True) if s is None or s.phone != e.phone]
            batch = self.batch()
            for e, bi in stray:
                if bi is not None:
                    batch.forget_number(bi, e.id)
            batch.run()
        return [made for made, _, _ in answers]

    def enrollment_heads(self, eids: Sequence[str]) -> list[tuple[EnrollmentState | None, int | None]]:
        """Each enrollment's state (None: not stored) and the later generation its pointer names
        (None: none), in one round trip, writing nothing (a bulk intake's dry run)."""
        return self._call(bulk.heads(eids))

    def generation_started(self, first_eid: str, generation: int) -> None:
        """Point generation 0 (`first_eid`) at `generation`, the newest, running (no expiry)."""
        self._call(enrollments.generation_started(first_eid, generation))

    def generation_ended(self, first_eid: str, generation: int, retention_s: int) -> None:
        """`generation` ended: a pointer still naming it expires `retention_s` from now."""
        self._call(enrollments.generation_ended(first_eid, generation, retention_s))

    def get_enrollment(self, eid: str) -> Enrollment | None:
        return self.get_enrollments([eid])[0]

    def get_enrollments(self, eids: Sequence[str]) -> list[Enrollment | None]:
        return self._call(enrollments.get_many(self.keyring, eids))

    def clinic_enrollments(self, clinic_id: str, offset: int, count: int) -> tuple[list[str], int]:
        """(`count` of the clinic's enrollment ids from `offset`, newest first; how many it has)."""
        return self._call(clinic_enrollments.page(clinic_id, offset, count))

    def forget_clinic_enrollments(self, clinic_id: str, eids: Sequence[str]) -> None:
        """Drop ids from the clinic's list whose enrollment is no longer stored."""
        if eids:
            self._call(clinic_enrollments.forget(clinic_id, eids))

    def update_enrollment(self, eid: str, change: EnrollmentUpdate) -> None:
        """Write `change`. When it changes the patient's details (or they are plain, or under an
        older key) the whole token is sealed anew and written by compare-and-set against the one
        read, retried while another writer gets there first: two round trips, more under a race.
        Nothing is written for an enrollment that is gone."""
        sealed.update_enrollment(self._call, self.keyring, eid, change)

    def retime(self, eid: str, channel: str, cursor: int, due: datetime | None) -> Retime:
        """Set the channel's next due time, only while its cursor is still `cursor` (else the
        cursor it is at now)."""
        return self._call(enrollments.retime(eid, channel, cursor, due))

    def lifecycle(
        self, eid: str, action: LifecycleAction, now: datetime, retention_s: int, *, reason: str = ""
    ) -> Lifecycle | None:
        """'pause', 'resume' or 'cancel': the state afterwards and whether it changed; None: gone.
        `reason` (a PausedReason value): why a pause pauses (kept while paused; a paused
        enrollment's reason is only ever raised), or the only pause a resume may end ('': any)."""
        return self._call(enrollments.lifecycle(eid, action, now, retention_s, reason))

    def opt_out_channel(self, eid: str, channel: str, now: datetime, source: OptOutSource) -> None:
        """Opt one enrollment out of `channel` (an earlier opt-out's record stays)."""
        self._call(enrollments.opt_out_channel(eid, channel, now, source))

    def channel_opt_outs(self, eid: str, channels: Sequence[str]) -> dict[str, OptOut]:
        """The enrollment's own opt-outs among `channels` (email unsubscribe), by channel."""
        return self._call(enrollments.channel_opt_outs(eid, channels))

    def opt_outs_of(
        self, eid: str, channels: Sequence[str], number: str | None
    ) -> tuple[dict[str, OptOut], OptOut | None]:
        """`channel_opt_outs` and the SMS opt-out of `number` (None: none, or no number), in one
        round trip (an enrollment's view: GET and POST /v1/enrollments)."""
        return self._call(self._opt_outs_read(eid, channels, number))

    def _opt_outs_read(
        self, eid: str, channels: Sequence[str], number: str | None
    ) -> Call[tuple[dict[str, OptOut], OptOut | None]]:
        """The call `opt_outs_of` makes (any plain opt-out moved first: `migrate_sms_opt_outs`)."""
        self._plain_optouts_moved()
        read = pair(
            enrollments.channel_opt_outs(eid, channels),
            enrollments.sms_opt_outs(self.index, [number] if number else []),
        )
        return Call(read.ops, lambda raw: _own_and_number(read.parse(raw)))

    def active_by_version(self) -> dict[tuple[str, int], int]:
        """(program id, version) -> active enrollments with a message to come, read from the due
        index (a round trip per 10,000 of them; see worker.store.census)."""
        return census.active_by_version(self.redis)

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

    def due_entries(self, eid: str, channels: Sequence[str]) -> dict[str, tuple[datetime | None, bool]]:
        """Per channel: when the enrollment's due-index entry is due (None: none) and whether it
        is claimed right now (`caredrip explain`)."""
        return self._call(due.entries(eid, channels))

    def unschedule(self, eid: str, channels: Iterable[str]) -> None:
        self._call(due.unschedule(eid, channels))

    def claim(self, channel: str, now: datetime, limit: int, lease_ms: int) -> list[Claim]:
        """Lease up to `limit` entries due by `now`, under one new claim token."""
        return self._call(due.claim(channel, now, limit, lease_ms, secrets.token_hex(4)))

    def renew(self, channel: str, token: str, confirmed_end_ms: int, lease_ms: int, eids: Sequence[str]) -> int | None:
        """Extend the leases the claim `token` still holds among `eids` (a send task's heartbeat):
        the new lease end (Redis time, ms), or None when `confirmed_end_ms` has already passed."""
        return self._call(due.renew(channel, token, confirmed_end_ms, lease_ms, eids))

    def reap(self, channel: str, now: datetime, limit: int = 1000) -> int:
        return self._call(due.reap(channel, now, limit))

    def next_due(self, channels: Sequence[str]) -> datetime | None:
        """The earliest due time over the channels' due indexes (None when they are empty)."""
        return self._call(due.next_due(channels))

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
        """Move the record forward to `state`, never back. A record an ended enrollment's
        compaction packed is read (a second round trip), updated as a plain field beside the
        chunks, and folded back in (`compact_records`)."""
        result = self._call(messages.apply_callback(mid, state, reason, now))
        for _ in range(3):  # another compaction between the read and the call: read again
            if result is not CallbackResult.PACKED:
                break
            eid = parse_message_id(mid)[0]
            seed = messages.packed_seed(mid, self._call(messages.stored([eid]))[0])
            if seed is None:
                return CallbackResult.MISSING
            result = self._call(messages.apply_callback(mid, state, reason, now, seed))
            if result is CallbackResult.UPDATED:
                self.compact_records([eid])
        return CallbackResult.MISSING if result is CallbackResult.PACKED else result

    def compact_records(self, eids: Sequence[str]) -> int:
        """Pack the records of these ended enrollments (worker.store.packed), each only if it is
        still as read and ended: two round trips; how many were compacted. An enrollment that
        has not ended, or whose records are all packed already, is left as it is."""
        read = self._call(messages.stored(eids))
        calls: list[Call[bool]] = []
        for eid, r in zip(eids, read, strict=True):
            if not r.plain:
                continue
            try:
                calls.append(messages.compact(eid, r))
            except ValueError:  # chunks of a format this version cannot read: left as they are
                continue
        if not calls:
            return 0
        ops = tuple(op for c in calls for op in c.ops)
        return self._call(Call(ops, lambda raw: sum(1 for c, r in zip(calls, raw, strict=True) if c.parse([r]))))

    def indexed_messages(self, index: OperatorIndex, limit: int = 1000) -> list[str]:
        return self._call(messages.indexed_messages(index, limit))

    def drop_from_index(self, index: OperatorIndex, mid: str) -> None:
        self._call(messages.drop_from_index(index, mid))

    # -- SMS opt-outs, by the number's blind index --------------------------------------------
    def sms_opted_out(self, numbers: Sequence[str]) -> list[bool]:
        self._plain_optouts_moved()
        return self._call(enrollments.sms_opted_out(self.index, numbers))

    def sms_opt_outs(self, numbers: Sequence[str]) -> list[OptOut | None]:
        """Each number's SMS opt-out (when, by which source), or None where it takes SMS."""
        self._plain_optouts_moved()
        return self._call(enrollments.sms_opt_outs(self.index, numbers))

    def opt_out_sms(self, number: str, now: datetime, source: OptOutSource = OptOutSource.STOP) -> None:
        """Opt `number` out of SMS from every clinic (an earlier opt-out's record stays)."""
        self._plain_optouts_moved()
        self._call(enrollments.opt_out_sms(self.index, number, now, source))

    def opt_in_sms(self, number: str) -> None:
        self._plain_optouts_moved()
        self._call(enrollments.opt_in_sms(self.index, number))

    def migrate_sms_opt_outs(self, page: int = 1000) -> int:
        """Move every SMS opt-out still keyed by the plain number (stored before blind indexes) to
        its blind index; how many moved. A round trip per page of the hash and per number moved."""
        moved = sealed.move_plain_optouts(self._call, self.index, page)
        self._optouts_moved = True
        return moved

    def _plain_optouts_moved(self) -> None:
        """Once per Store, before its first opt-out read or write: no opt-out is left plain."""
        if not self._optouts_moved:
            self.migrate_sms_opt_outs()

    # -- re-sealing under the keyring's first key (worker.rotation) -----------------------------
    def sealed_records_page(self, cursor: int, count: int = 1000) -> SealedPage:
        """One SCAN page of the whole keyspace, with the enrollments and replies among it."""
        cursor, keys = self._call(sealed.scan_page(cursor, count))
        found = [sealed.enrollment_id(k) for k in keys], [sealed.reply_id(k) for k in keys]
        return SealedPage(cursor, len(keys), *([x for x in ids if x] for ids in found))

    def key_count(self) -> int:
        return self._call(sealed.key_count())

    def reseal_enrollment(self, eid: str) -> Reseal:
        """Seal the enrollment's details under the keyring's first key unless they already are
        (plain ones too), by compare-and-set: a concurrent PATCH is never lost. SealError if its
        token does not open (UnknownKeyError: its key left the keyring)."""
        return sealed.reseal_enrollment(self._call, self.keyring, eid)

    def reseal_reply(self, rid: str) -> Reseal:
        """Seal the reply's body under the keyring's first key unless it already is, by
        compare-and-set. SealError if it does not open."""
        return sealed.reseal_reply(self._call, self.keyring, rid)

    def reseal_webhook_secret(self, cid: str) -> Reseal:
        """Seal the clinic's webhook signing secret under the keyring's first key unless it
        already is, by compare-and-set. SealError if it does not open."""
        return sealed.reseal_webhook_secret(self._call, self.keyring, cid)

    # -- webhook replay guard (worker/replays.py) ---------------------------------------------
    def first_sighting(self, kind: str, ident: str, ttl_s: int) -> bool:
        """True the first time (`kind`, `ident`) is seen within `ttl_s` seconds."""
        return self._call(shared.first_sighting(kind, ident, ttl_s))

    def forget_sighting(self, kind: str, ident: str) -> None:
        """Undo a first sighting whose action failed, so the provider's retry can act."""
        self._call(shared.forget_sighting(kind, ident))

    # -- recipients: routing and caps by blind index (worker.store.numbers) ----------------------
    def number_record(self, bi: str) -> NumberRecord:
        """The number's latest message (whose, when) and the enrollments noted for it."""
        return self._call(numbers.record(bi))

    def move_number(self, old_bi: str | None, new_bi: str, eid: str, clinic_id: str, ttl_s: int) -> None:
        """The enrollment's phone changed: note it for the new number, no longer for the old one."""
        self._call(numbers.move_enrollment(old_bi, new_bi, eid, clinic_id, ttl_s))

    def recent_sends(self, bi: str) -> list[datetime]:
        """The sends the caps count for a recipient (number or address), oldest first."""
        return self._call(numbers.sends(bi))

    def park_sends(self, bis: Sequence[str | None], now: datetime) -> int:
        """Programs of these numbers (by blind index; None: not a number) ended: their recent sends
        move out of the records into keys that expire 8 days from `now`, still counted by the caps
        (park_sends.lua); one round trip, none for no number. How many sends moved."""
        calls = [numbers.park(bi, now) for bi in dict.fromkeys(bis) if bi is not None]
        if not calls:
            return 0
        return self._call(Call(tuple(c.ops[0] for c in calls), lambda raw: sum(int(n) for n in raw)))

    def release_send(self, bi: str, mid: str) -> None:
        """Give back message `mid`'s reserved place in the recipient's sends (not handed over)."""
        self._call(numbers.release(bi, mid))

    def number_replies(self, bi: str) -> list[StoredReply]:
        """Every reply kept from the number (its blind index), matched or not. Two round trips."""
        rids = self._call(replies.of_number(bi))
        return [r for r in self._call(replies.get_many(rids)) if r is not None]

    def erase_number(self, bi: str) -> ErasedNumber:
        """Remove every trace of a number kept here: its routing record, its sends for caps, and
        each reply received from it (and its inbox entry). Four round trips."""
        stored = self.number_replies(bi)
        self._call(replies.drop(stored))
        self._call(numbers.drop(bi))
        return ErasedNumber(replies=len(stored))

    # -- replies (worker.store.replies; worker.inbox seals and opens bodies) --------------------
    def add_reply(self, reply: StoredReply, ttl_s: int) -> None:
        """Keep a reply for `ttl_s` seconds, listed for its clinic (or the operators' inbox)."""
        self._call(replies.add(reply, ttl_s))

    def reply_page(
        self, owner: str, *, before: str | None = None, since: datetime | None = None, count: int = 50
    ) -> list[tuple[str, StoredReply | None]]:
        """Up to `count` of `owner`'s replies (a clinic id, or UNMATCHED), newest first, each with
        its index entry (the next page's `before`): older than `before`, at or after `since`.
        Two round trips; None where a reply expired since it was listed."""
        entries = self._call(replies.page(owner, before, since, count))
        found = self._call(replies.get_many([replies.rid_of(e) for e in entries]))
        return list(zip(entries, found, strict=True))

    def get_replies(self, rids: Sequence[str]) -> list[StoredReply | None]:
        return self._call(replies.get_many(rids))

    def acknowledge_reply(self, rid: str, clinic_id: str, now: datetime) -> datetime | None:
        """Acknowledge the clinic's reply (the first time stays): when; None if not the clinic's."""
        return self._call(replies.acknowledge(rid, clinic_id, now))

    def erase_replies(self, stored: Sequence[StoredReply]) -> None:
        """Remove these replies and their index entries (erasure of one enrollment's replies)."""
        self._call(replies.drop(stored))

    # -- red-flag alerts (worker.store.alerts; worker.alerts decides) ---------------------------
    def raise_alert(self, alert: StoredAlert, ttl_s: int) -> None:
        """Keep an alert for `ttl_s` seconds, open, listed for everyone and for its owner."""
        self._call(alerts.raise_alert(alert, ttl_s))

    def close_alert(self, rid: str, clinic_id: str, now: datetime) -> bool:
        """Close reply `rid`'s alert of `clinic_id` ('' the operators'): True when it was open.
        Two round trips when it was."""
        was_open, kept = self._call(alerts.close(rid, clinic_id))
        if was_open and kept:
            self._call(alerts.stamp_closed(rid, now))
        return was_open

    def open_alerts(self, owner: str | None = None, limit: int = 1000) -> list[StoredAlert]:
        """Open alerts, oldest first: one owner's (a clinic id or UNMATCHED) or all (None). Two
        round trips; an alert whose record expired shows what the open set knows."""
        listed = self._call(alerts.open_ids(owner, max(1, limit)))
        found = self._call(alerts.get_many([rid for rid, _ in listed]))
        return [
            alert or StoredAlert(rid, "" if owner is None else owner, "", raised_at)
            for (rid, raised_at), alert in zip(listed, found, strict=True)
        ]

    def get_alert(self, rid: str) -> StoredAlert | None:
        return self._call(alerts.get_many([rid]))[0]

    def alert_summary(self) -> AlertSummary:
        return self._call(alerts.summary())

    # -- the patient's own pauses (worker.store.resumes) ---------------------------------------
    def schedule_patient_resume(self, eid: str, at: datetime) -> None:
        """The enrollment the patient paused resumes by itself at `at`."""
        self._call(resumes.schedule(eid, at))

    def due_patient_resumes(self, now: datetime, limit: int = 500) -> list[tuple[str, int]]:
        """Patient pauses ending by `now`: (enrollment id, the resume time held, epoch ms)."""
        return self._call(resumes.due(now, limit))

    def patient_resume_done(self, eid: str, at_ms: int) -> bool:
        """Drop the entry if it still holds `at_ms` (a later PAUSE moved it: it stays)."""
        return self._call(resumes.done(eid, at_ms))

    def patient_resume_at(self, eid: str) -> int | None:
        """When the patient's pause of `eid` ends (epoch ms), or None."""
        return self._call(resumes.pending(eid))

    # -- erasure (worker/erasure.py) -------------------------------------------------------------
    def erase_enrollment_phi(self, eids: Sequence[str]) -> int:
        """Delete name, patient ref and contacts from these enrollments; how many had any."""
        return self._call(erasure.erase_phi(eids))

    def drop_number_records(self, bis: Sequence[str]) -> int:
        """Remove these recipients' records (sends, routing, reply index); how many there were."""
        return self._call(erasure.drop_records(bis))

    def forget_clinic_number(self, bi: str, clinic_id: str, eids: Sequence[str]) -> tuple[int, bool]:
        """One clinic's erasure on a number's record: its notes for `eids` and its latest message
        go, and the record once no other clinic has the number; (notes removed, record removed)."""
        return self._call(erasure.forget_clinic(bi, clinic_id, eids))

    # -- the audit trail (worker/audit.py) ------------------------------------------------------
    def append_audit(self, entry: AuditEntry, retention_s: int) -> str:
        """Append an entry (its `id` ignored) to the trail and its clinic's index, dropping entries
        older than `retention_s` before its time; the id it got."""
        return self._call(audit.append(entry, retention_s * 1000))

    def append_audits(self, entries: Sequence[AuditEntry], retention_s: int) -> None:
        """`append_audit` of each entry, all in one round trip (bulk intake)."""
        if entries:
            self._runner.run([op for e in entries for op in audit.append(e, retention_s * 1000).ops])

    def audit_page(self, *, before: str | None = None, count: int = 100) -> list[AuditEntry]:
        """Up to `count` entries of the whole trail, newest first, older than id `before`."""
        return self._call(audit.page(before, count))

    def audit_index(self, clinic_id: str, *, before: str | None = None, count: int = 100) -> list[tuple[str, str]]:
        """Up to `count` of the clinic's entries as (id, enrollment id), newest first, older than `before`."""
        return self._call(audit.clinic_index(clinic_id, before, count))

    def audit_entries(self, ids: Sequence[str]) -> list[AuditEntry]:
        """The entries with these ids, in that order (one trimmed meanwhile left out)."""
        return [e for e in self._call(audit.by_ids(ids)) if e is not None]

    # -- clinic events and their deliveries (worker.events, worker.webhooks.delivery) -----------
    def event_target(self, clinic_id: str) -> webhooks.EventTarget:
        """Where the clinic's events go: its webhook URL, sealed secret and email ('' when none)."""
        return self._call(webhooks.target(clinic_id))

    def add_event(
        self,
        evt_id: str,
        clinic_id: str,
        event_type: str,
        body: bytes,
        kinds: list[webhooks.DeliveryKind],
        *,
        at: datetime,
        due: datetime,
        ttl_s: int,
    ) -> None:
        """Store the event (created `at`) once: a second add of the same id changes nothing; put
        each new delivery in the due set, due at `due`. Two round trips (one when nothing is new)."""
        new = self._call(webhooks.add(evt_id, clinic_id, event_type, body, kinds, at, ttl_s))
        if new:
            self._call(webhooks.queue(evt_id, new, due))

    def get_event(self, evt_id: str) -> webhooks.StoredEvent | None:
        return self._call(webhooks.get(evt_id))

    def event_attempts(self, evt_id: str) -> list[webhooks.Attempt]:
        return self._call(webhooks.attempts(evt_id))

    def claim_deliveries(self, now: datetime, limit: int, lease_ms: int, max_in_flight: int) -> list[str]:
        """Lease up to `limit` deliveries due by `now` (`<kind>:<event id>`), no more than
        `max_in_flight` leased at once; expired leases come back first."""
        return self._call(webhooks.claim(now, limit, lease_ms, max_in_flight))

    def finish_delivery(
        self,
        evt_id: str,
        kind: webhooks.DeliveryKind,
        attempt: webhooks.Attempt | None,
        state: webhooks.DeliveryState,
        retry_at: datetime | None,
        ttl_s: int,
    ) -> None:
        """Record the attempt, set the state, release the lease; due again at `retry_at` if given."""
        self._call(webhooks.finish(evt_id, kind, attempt, state, retry_at, ttl_s))

    def release_delivery(self, kind: webhooks.DeliveryKind, evt_id: str) -> None:
        """Drop a claimed delivery's lease with nothing recorded (its event is gone or already done)."""
        self._call(webhooks.release(kind, evt_id))

    def count_emit_error(self) -> None:
        self._call(webhooks.count_emit_error())

    def failed_deliveries(self, limit: int = 1000) -> list[str]:
        return self._call(webhooks.failed(limit))

    # -- intake tasks refused (worker/intake_queue.py) ----------------------------------------
    def record_failed_intake(self, entry: str) -> None:
        """Keep a refused intake (JSON text, never the body) for operators and count it."""
        self._call(intake.record_failed(entry))

    def failed_intakes(self, limit: int = 1000) -> list[str]:
        """Refused intakes (JSON text), newest first."""
        return self._call(intake.failed(limit))

    # -- counters and the dispatch heartbeat ------------------------------------------------
    def stats_totals(self) -> dict[CountKey, int]:
        """Messages that reached each state, by (state, channel, program), since the store began."""
        return self._call(counters.totals())

    def note_dispatch(self, now: datetime, handed: int) -> None:
        """Record a finished dispatch run: operators see when the last one ran (beat alive?)."""
        self._call(counters.note_dispatch(now, handed))

    def dispatch_info(self) -> DispatchInfo:
        return self._call(counters.dispatch_info())

    # -- shared by every process: rate limit, locks, clock origin; the server ------------------
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

    def hash_value_limit(self) -> int | None:
        """The server's hash-max-listpack-value (hash-max-ziplist-value before Redis 7); None when
        the server refuses CONFIG GET (managed Redis often does)."""
        try:
            return self._call(shared.hash_value_limit())
        except redis.ResponseError:
            return None


class LegacySecret:
    """`cd:secret` of an older installation, read and dropped before a Store exists (the Store's
    blind-index key derives from the secret: worker.secret_file)."""

    def __init__(self, client: redis.Redis) -> None:
        self._runner = Runner(client)

    def legacy_secret(self) -> str | None:
        return self._runner.call(shared.legacy_secret())

    def drop_legacy_secret(self) -> None:
        self._runner.call(shared.drop_legacy_secret())


def _no_entry(_raw: list[object]) -> None:
    """No audit entry was appended."""
    return None


def _own_and_number(
    read: tuple[dict[str, OptOut], list[OptOut | None]],
) -> tuple[dict[str, OptOut], OptOut | None]:
    own, by_number = read
    return own, by_number[0] if by_number else None
