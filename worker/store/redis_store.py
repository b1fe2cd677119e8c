"""The Store: every round trip to Redis for enrollments, the due index, messages and counters."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

import redis

from worker.records import (
    CALLBACK_RANKS,
    STATE_CODES,
    Enrollment,
    MessageRecord,
    MessageState,
    OptOut,
    OptOutSource,
    epoch_ms,
    epoch_s,
    from_epoch_ms,
    parse_message_id,
)
from worker.store.codec import (
    decode_enrollment,
    encode_enrollment,
    pack_opt_out,
    record_field,
    unpack_opt_out,
    unpack_record,
)
from worker.store.keys import (
    DISPATCH_KEY,
    INBOX_KEEP,
    OPTOUT_SMS,
    STATS_TOTAL,
    due_key,
    enrollment_key,
    inbox_key,
    lease_key,
    phones_key,
    records_key,
    seen_key,
)

SCRIPTS = ("claim", "reap", "enroll", "begin_send", "finish_send", "lifecycle", "ratelimit", "callback")


@dataclass(frozen=True, slots=True)
class ScriptCall:
    """One Lua call for `Store.run`: script name, keys and arguments."""

    script: str
    keys: Sequence[str]
    args: Sequence[Any]


@dataclass(frozen=True, slots=True)
class Command:
    """One plain Redis command for `Store.run`, e.g. Command("zadd", (key, {member: score}))."""

    name: str
    args: Sequence[Any]


Op = ScriptCall | Command


class Store:
    """Wraps one redis-py client (decode_responses=True); every round trip goes through here."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._sources = {n: resources.files("worker.lua").joinpath(f"{n}.lua").read_text() for n in SCRIPTS}
        self._sha: dict[str, str] = {}

    # -- plumbing -------------------------------------------------------------------------
    def load_scripts(self) -> None:
        self._sha = {name: str(self.redis.script_load(src)) for name, src in self._sources.items()}

    def run(self, ops: Sequence[Op]) -> list[Any]:
        """Run `ops` in one pipelined round trip; scripts unknown to the server (it restarted)
        are loaded and only those calls re-run, so nothing runs twice."""
        if not ops:
            return []
        if not self._sha:
            self.load_scripts()
        results = self._pipeline(ops)
        missing = [i for i, r in enumerate(results) if isinstance(r, redis.exceptions.NoScriptError)]
        if missing:
            self.load_scripts()
            for i, value in zip(missing, self._pipeline([ops[i] for i in missing]), strict=True):
                results[i] = value
        for value in results:
            if isinstance(value, Exception):
                raise value
        return results

    def script(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return self.run([ScriptCall(name, keys, args)])[0]

    def _pipeline(self, ops: Sequence[Op]) -> list[Any]:
        pipe = self.redis.pipeline(transaction=False)
        for op in ops:
            if isinstance(op, ScriptCall):
                pipe.evalsha(self._sha[op.script], len(op.keys), *op.keys, *op.args)
            else:
                getattr(pipe, op.name)(*op.args)
        return list(pipe.execute(raise_on_error=False))

    def ping(self) -> bool:
        return bool(self.redis.ping())

    # -- enrollments ----------------------------------------------------------------------
    def create_enrollment(self, enrollment: Enrollment, *, phone_clinic: str | None = None) -> bool:
        """Store `enrollment` unless its id exists, schedule each channel and (with `phone_clinic`)
        note the clinic of its phone, in one round trip; True when created.

        The due entries go out with the create (ZADD NX), whether or not it creates: for an
        enrollment that already existed they are either already there (NX: unchanged) or a
        harmless hint — dispatch re-reads the enrollment and releases an inactive one or moves
        the entry to its real due time. So a new enrollment costs one round trip, not two.
        """
        flat = [x for kv in encode_enrollment(enrollment).items() for x in kv]
        ops: list[Op] = [ScriptCall("enroll", [enrollment_key(enrollment.id)], flat), *self.schedule_ops(enrollment)]
        if phone_clinic is not None and enrollment.phone:
            ops.append(Command("hset", (phones_key(enrollment.phone), enrollment.phone, phone_clinic)))
        return bool(self.run(ops)[0])

    def schedule_ops(self, enrollment: Enrollment) -> list[Op]:
        """ZADD NX of each channel's next message into its due index (an entry stays put)."""
        return [Command("zadd", (due_key(ch), {enrollment.id: epoch_ms(due)}, True))
                for ch, due in enrollment.next_due.items() if due is not None]

    def schedule_all(self, enrollment: Enrollment, *, only_missing: bool = False) -> None:
        """Put each channel with a next message into its due index (NX: an entry stays put)."""
        ops: list[Op] = []
        for ch, due in enrollment.next_due.items():
            if due is None:
                continue
            if only_missing and self._indexed(enrollment.id, ch):
                continue
            ops.append(Command("zadd", (due_key(ch), {enrollment.id: epoch_ms(due)}, True)))
        self.run(ops)

    def _indexed(self, eid: str, channel: str) -> bool:
        due, lease = self.run(
            [Command("zscore", (due_key(channel), eid)), Command("zscore", (lease_key(channel), eid))]
        )
        return due is not None or lease is not None

    def unschedule(self, eid: str, channels: Iterable[str]) -> None:
        self.run([Command("zrem", (due_key(ch), eid)) for ch in channels])

    def get_enrollment(self, eid: str) -> Enrollment | None:
        return self.get_enrollments([eid])[0]

    def get_enrollments(self, eids: Sequence[str]) -> list[Enrollment | None]:
        rows = self.run([Command("hgetall", (enrollment_key(e),)) for e in eids])
        return [decode_enrollment(e, h) if h else None for e, h in zip(eids, rows, strict=True)]

    def update_enrollment(self, eid: str, fields: dict[str, str]) -> None:
        if fields:
            self.redis.hset(enrollment_key(eid), mapping=dict[Any, Any](fields))

    def lifecycle(self, eid: str, action: str, now: datetime, retention_s: int) -> str:
        return str(
            self.script("lifecycle", [enrollment_key(eid), records_key(eid)], [action, epoch_s(now), retention_s])
        )

    def set_channel_opt_out(self, eid: str, channel: str, opted_out: bool) -> None:
        op = "hset" if opted_out else "hdel"
        args = (enrollment_key(eid), f"o:{channel}", "1") if opted_out else (enrollment_key(eid), f"o:{channel}")
        self.run([Command(op, args)])

    # -- the due index --------------------------------------------------------------------
    def claim(self, channel: str, now: datetime, limit: int, lease_ms: int) -> list[tuple[str, datetime]]:
        flat = self.script("claim", [due_key(channel), lease_key(channel)], [epoch_ms(now), limit, lease_ms])
        return [(flat[i], from_epoch_ms(float(flat[i + 1]))) for i in range(0, len(flat), 2)]

    def reap(self, channel: str, now: datetime, limit: int = 1000) -> int:
        return int(self.script("reap", [due_key(channel), lease_key(channel)], [epoch_ms(now), limit]))

    def in_flight(self, channel: str) -> int:
        return int(self.redis.zcard(lease_key(channel)))

    def reschedule_ops(self, eid: str, channel: str, due: datetime | None) -> list[Op]:
        """Release the lease and, when `due` is given, put the entry back at `due`."""
        ops: list[Op] = [Command("zrem", (lease_key(channel), eid))]
        if due is not None:
            ops.insert(0, Command("zadd", (due_key(channel), {eid: epoch_ms(due)})))
        return ops

    def due_counts(self, channel: str, now: datetime, horizon: datetime) -> tuple[int, int, datetime | None]:
        """(due now, due by `horizon`, oldest due instant) for one channel."""
        due_now, due_soon, oldest = self.run(
            [
                Command("zcount", (due_key(channel), "-inf", epoch_ms(now))),
                Command("zcount", (due_key(channel), "-inf", epoch_ms(horizon))),
                Command("zrange", (due_key(channel), 0, 0, False, True)),
            ]
        )
        first = from_epoch_ms(float(oldest[0][1])) if oldest else None
        return int(due_now), int(due_soon), first

    # -- messages -------------------------------------------------------------------------
    def begin_send_op(self, eid: str, channel: str, cursor: int | None, field: str, now: datetime, stale_s: int) -> Op:
        keys = [enrollment_key(eid), records_key(eid)]
        return ScriptCall(
            "begin_send", keys, [channel, "-" if cursor is None else cursor, field, epoch_s(now), stale_s]
        )

    def finish_send_op(
        self,
        eid: str,
        channel: str,
        cursor: int | None,
        field: str,
        record: str,
        next_cursor: int,
        next_due: datetime | None,
        history: Sequence[datetime],
        now: datetime,
        retention_s: int,
    ) -> Op:
        keys = [enrollment_key(eid), records_key(eid)]
        hist = ",".join(str(epoch_s(t)) for t in history)
        due = epoch_ms(next_due) if next_due else 0
        args = [
            channel,
            "-" if cursor is None else cursor,
            field,
            record,
            next_cursor,
            due,
            hist,
            epoch_s(now),
            retention_s,
        ]
        return ScriptCall("finish_send", keys, args)

    def index_op(self, index: str, mid: str, now: datetime) -> Op:
        return Command("zadd", (index, {mid: epoch_s(now)}))

    def records(self, eid: str) -> list[MessageRecord]:
        raw = self.redis.hgetall(records_key(eid))
        records = (unpack_record(eid, str(f), str(v)) for f, v in raw.items())
        return sorted(records, key=lambda r: (r.at is None, r.at))

    def record(self, mid: str) -> MessageRecord | None:
        eid, step, channel, occ = parse_message_id(mid)
        value = self.redis.hget(records_key(eid), record_field(step, channel, occ))
        return unpack_record(eid, record_field(step, channel, occ), str(value)) if value else None

    def apply_callback(self, mid: str, state: MessageState, reason: str, now: datetime) -> str:
        eid, step, channel, occ = parse_message_id(mid)
        args = [record_field(step, channel, occ), STATE_CODES[state], CALLBACK_RANKS[state], reason, epoch_s(now)]
        return str(self.script("callback", [records_key(eid)], args))

    def indexed_messages(self, index: str, limit: int = 1000) -> list[str]:
        return [str(m) for m in self.redis.zrange(index, 0, limit - 1)]

    def drop_from_index(self, index: str, mid: str) -> None:
        self.redis.zrem(index, mid)

    # -- opt-outs (worker/optouts.py decides; a first opt-out's time and source are kept) -------
    def sms_opted_out(self, numbers: Sequence[str]) -> list[bool]:
        if not numbers:
            return []
        return [v is not None for v in self.redis.hmget(OPTOUT_SMS, list(numbers))]

    def sms_opt_outs(self, numbers: Sequence[str]) -> list[OptOut | None]:
        """Each number's SMS opt-out (when, by which source), or None where it is opted in."""
        if not numbers:
            return []
        return [unpack_opt_out(str(v)) if v is not None else None for v in self.redis.hmget(OPTOUT_SMS, list(numbers))]

    def opt_out_sms_op(self, number: str, now: datetime, source: OptOutSource) -> Op:
        """Opt `number` out of SMS from every clinic (HSETNX: an earlier opt-out's record stays)."""
        return Command("hsetnx", (OPTOUT_SMS, number, pack_opt_out(now, source)))

    def opt_out_sms(self, number: str, now: datetime, source: OptOutSource = OptOutSource.STOP) -> None:
        self.run([self.opt_out_sms_op(number, now, source)])

    def opt_in_sms(self, number: str) -> None:
        self.redis.hdel(OPTOUT_SMS, number)

    def opt_out_channel(self, eid: str, channel: str, now: datetime, source: OptOutSource) -> None:
        """Opt one enrollment out of `channel` (HSETNX: an earlier opt-out's record stays)."""
        self.redis.hsetnx(enrollment_key(eid), f"o:{channel}", pack_opt_out(now, source))

    def channel_opt_outs(self, eid: str, channels: Sequence[str]) -> dict[str, OptOut]:
        """The enrollment's own opt-outs among `channels` (email unsubscribe), by channel."""
        if not channels:
            return {}
        values = self.redis.hmget(enrollment_key(eid), [f"o:{ch}" for ch in channels])
        return {ch: unpack_opt_out(str(v)) for ch, v in zip(channels, values, strict=True) if v is not None}

    # -- webhook replay guard (worker/replays.py) ---------------------------------------------------
    def first_sighting(self, kind: str, ident: str, ttl_s: int) -> bool:
        """True the first time (`kind`, `ident`) is seen within `ttl_s` seconds (SET NX EX)."""
        return bool(self.redis.set(seen_key(kind, ident), "1", nx=True, ex=ttl_s))

    def forget_sighting(self, kind: str, ident: str) -> None:
        """Undo a first sighting whose action failed, so the provider's retry can act."""
        self.redis.delete(seen_key(kind, ident))

    # -- numbers, replies, counters -------------------------------------------------------------
    def remember_phone(self, number: str, clinic_id: str) -> None:
        """Note `clinic_id` as the clinic of `number`'s latest enrollment (HELP names it)."""
        self.redis.hset(phones_key(number), number, clinic_id)

    def clinic_for_phone(self, number: str) -> str | None:
        cid = self.redis.hget(phones_key(number), number)
        return str(cid) if cid else None

    def push_inbox(self, clinic_id: str, entry: str) -> None:
        """Keep a patient's reply (JSON text) for the clinic; only the latest INBOX_KEEP stay."""
        self.run(
            [
                Command("lpush", (inbox_key(clinic_id), entry)),
                Command("ltrim", (inbox_key(clinic_id), 0, INBOX_KEEP - 1)),
            ]
        )

    def inbox(self, clinic_id: str, limit: int = 100) -> list[str]:
        return [str(v) for v in self.redis.lrange(inbox_key(clinic_id), 0, limit - 1)]

    def count_op(self, state: str, channel: str, program: str) -> Op:
        return Command("hincrby", (STATS_TOTAL, f"{state}:{channel}:{program}", 1))

    def stats_totals(self) -> dict[str, int]:
        """`<state>:<channel>:<program>` -> count, since the store began."""
        return {str(k): int(v) for k, v in self.redis.hgetall(STATS_TOTAL).items()}

    # -- rate limit ---------------------------------------------------------------------------
    def reserve(self, channel: str, count: int, interval_us: int, burst_us: int) -> int:
        """Reserve `count` sends on the channel's shared limit; microseconds to wait first."""
        return int(self.script("ratelimit", [f"cd:rl:{channel}"], [interval_us, count, burst_us]))

    # -- dispatch heartbeat ----------------------------------------------------------------------
    def note_dispatch(self, now: datetime, handed: int) -> None:
        """Record a finished dispatch run: operators see when the last one ran (beat alive?)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(DISPATCH_KEY, mapping={"last_at": epoch_s(now)})
        pipe.hincrby(DISPATCH_KEY, "runs", 1)
        pipe.hincrby(DISPATCH_KEY, "handed", handed)
        pipe.execute()

    def dispatch_info(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.redis.hgetall(DISPATCH_KEY).items()}

    # -- locks --------------------------------------------------------------------------------
    def acquire_lock(self, name: str, ttl_ms: int) -> str | None:
        """A short lock (SET NX PX); its token releases it, so an expired holder frees no one else's."""
        token = secrets.token_hex(8)
        return token if self.redis.set(f"cd:lock:{name}", token, nx=True, px=ttl_ms) else None

    def release_lock(self, name: str, token: str) -> None:
        if self.redis.get(f"cd:lock:{name}") == token:
            self.redis.delete(f"cd:lock:{name}")

    # -- shared values ------------------------------------------------------------------------
    def shared_value(self, key: str, candidate: str) -> str:
        """The value stored at `key`, set to `candidate` first if there is none (SET NX)."""
        self.redis.set(key, candidate, nx=True)
        return str(self.redis.get(key))
