"""Delivery: claim what is due (dispatch) and send it in batches (send), with every guarantee.

Per batch, the Redis work is pipelined: one round trip loads the enrollments, one takes the
"sending" state of a chunk, one records outcomes and moves cursors on. Each message takes its
own "sending" state before its provider call, checked atomically against the enrollment
(still active? still at this step?), so a pause, cancel or STOP stops it even after it was
claimed; a "sending" left behind by a crash becomes `unknown`, never a second text.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from worker.channels.base import Channel, OutgoingMessage, SendResult
from worker.clock import to_virtual
from worker.enrollment import EngineDeps
from worker.errors import AmbiguousChannelError, ContentError, PermanentChannelError, TransientChannelError
from worker.logs import get_logger
from worker.programs import Program, Step
from worker.records import Enrollment, EnrollmentState, MessageState, epoch_s, message_id
from worker.render import Renderer
from worker.retry import compute_backoff, should_retry
from worker.schedule import channel_caps, due_at_cursor, next_allowed
from worker.settings import Caps
from worker.store import (
    FAILED_INDEX,
    OPTOUT_SMS,
    UNKNOWN_INDEX,
    Command,
    Op,
    ScriptCall,
    Store,
    pack_record,
    record_field,
    unpack_record,
)
from worker.tokens import unsubscribe_token

log = get_logger("caredrip.delivery")
LEASE_SECONDS = 300
HISTORY_KEEP = timedelta(days=8)


@dataclass(frozen=True)
class DeliveryDeps:
    """The engine's deps plus what sending needs: renderer, channels, caps, limits."""

    engine: EngineDeps
    renderer: Renderer
    channels: dict[str, Channel]
    caps: Caps
    public_base_url: str
    rate_per_second: dict[str, float]
    send_batch: int = 100
    lease_seconds: int = LEASE_SECONDS
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


# -- dispatch ---------------------------------------------------------------------------------
BUSY_TICK_SECONDS = 0.05  # between ticks while a backlog is being worked off


def dispatch_once(deps: DeliveryDeps, enqueue: Callable[[str, list[str]], None]) -> int:
    """One tick: return expired leases, claim what is due, hand it over in batches."""
    return _dispatch(deps, enqueue)[0]


def _dispatch(deps: DeliveryDeps, enqueue: Callable[[str, list[str]], None]) -> tuple[int, bool]:
    """(handed over, backlogged): backlogged when a channel claimed work or hit its in-flight cap,
    so more may be due at once and the next tick should come soon."""
    store, now = deps.engine.store, deps.engine.clock.now()
    handed, backlogged = 0, False
    for channel in deps.channels:
        store.reap(channel, now)
        room = deps.max_in_flight(channel) - store.in_flight(channel)
        backlogged |= room <= 0
        while room > 0:
            claimed = store.claim(channel, now, min(deps.send_batch, room), deps.lease_ms)
            if not claimed:
                break
            enqueue(channel, [eid for eid, _ in claimed])
            handed += len(claimed)
            room -= len(claimed)
            backlogged = True
    return handed, backlogged


# -- send -------------------------------------------------------------------------------------
@dataclass
class Pending:
    """One message on its way: the enrollment, the step, and once rendered, the message."""

    enrollment: Enrollment
    program: Program
    step: Step
    cursor: int
    message: OutgoingMessage | None = None
    attempts: int = 1


@dataclass
class BatchOutcome:
    """How a batch went, by outcome; adds up to the batch's size."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str, n: int = 1) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + n

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def send_batch(deps: DeliveryDeps, channel: str, eids: Sequence[str]) -> BatchOutcome:
    """Send the due message of each claimed enrollment on `channel`."""
    outcome = BatchOutcome()
    ready, ops = _triage(deps, channel, eids, outcome)
    deps.engine.store.run(ops)
    ready = _render_all(deps, channel, ready, outcome)
    chunks = list(_chunks(ready, _chunk_size(deps, channel)))
    worker = deps.channels[channel]
    if worker.parallelism > 1 and len(chunks) > 1:
        with ThreadPoolExecutor(max_workers=min(worker.parallelism, len(chunks))) as pool:
            for part in pool.map(lambda c: _send_chunk(deps, channel, c), chunks):
                _merge(outcome, part)
    else:
        for chunk in chunks:
            _merge(outcome, _send_chunk(deps, channel, chunk))
    return outcome


def _triage(
    deps: DeliveryDeps, channel: str, eids: Sequence[str], outcome: BatchOutcome
) -> tuple[list[Pending], list[Op]]:
    """Keep what is due and allowed now; release or put back the rest."""
    store, now, catalog = deps.engine.store, deps.engine.clock.now(), deps.engine.catalog
    ready: list[Pending] = []
    ops: list[Op] = []
    for eid, enrollment in zip(eids, store.get_enrollments(eids), strict=True):
        if enrollment is None or enrollment.state is not EnrollmentState.ACTIVE or channel not in enrollment.channels:
            ops += store.reschedule_ops(eid, channel, None)
            outcome.add("inactive")
            continue
        program = catalog.get(enrollment.program)
        steps = program.steps_for(channel)
        cursor, due = enrollment.cursor[channel], enrollment.next_due[channel]
        if cursor >= len(steps) or due is None:
            ops += store.reschedule_ops(eid, channel, None)
            outcome.add("finished")
            continue
        allowed = _allowed_at(deps, enrollment, channel, max(now, due))
        if allowed > now:
            ops += store.reschedule_ops(eid, channel, allowed)
            outcome.add("deferred")
            continue
        ready.append(Pending(enrollment, program, steps[cursor], cursor))
    return ready, ops


def _allowed_at(deps: DeliveryDeps, enrollment: Enrollment, channel: str, instant: datetime) -> datetime:
    per_day, per_week = channel_caps(deps.caps, channel)
    tz = ZoneInfo(enrollment.timezone)
    return next_allowed(instant, tz, deps.engine.quiet, enrollment.history[channel], per_day, per_week)


def _render_all(deps: DeliveryDeps, channel: str, ready: list[Pending], outcome: BatchOutcome) -> list[Pending]:
    rendered: list[Pending] = []
    for p in ready:
        try:
            p.message = render_message(deps, channel, p)
            rendered.append(p)
        except ContentError as exc:
            log.error("render_failed", enrollment_id=p.enrollment.id, step=p.step.id, channel=channel, error=str(exc))
            _finish(deps, channel, [(p, MessageState.FAILED, None, "render_error")], outcome)
    return rendered


def render_message(deps: DeliveryDeps, channel: str, p: Pending, occurrence: int = 1) -> OutgoingMessage:
    """The message for `p` on `channel`, with its id, links and SMS segment count."""
    e = p.enrollment
    clinic = deps.clinics(e.clinic_id)
    context = {
        "first_name": e.first_name,
        "clinic_name": clinic.get("name", "your clinic"),
        "clinic_phone": clinic.get("phone", ""),
        "program_name": p.program.name,
    }
    mid = message_id(e.id, p.step.id, channel, occurrence)
    base = deps.public_base_url
    common = dict(
        id=mid,
        enrollment_id=e.id,
        clinic_id=e.clinic_id,
        program=p.program.id,
        step=p.step.id,
        language=e.language,
        timezone=e.timezone,
        due_at=e.next_due[channel] or deps.engine.clock.now(),
    )
    if channel == "sms":
        sms = deps.renderer.sms(p.program, p.step.id, e.language, context)
        return OutgoingMessage(
            channel="sms",
            to=e.phone or "",
            body=sms.body,
            segments=sms.segments,
            encoding=sms.encoding,
            status_callback_url=f"{base}/webhooks/twilio/status?m={mid}",
            **common,  # type: ignore[arg-type]
        )
    unsubscribe = f"{base}/unsubscribe/{unsubscribe_token(deps.engine.secret, e.id)}"
    mail = deps.renderer.email(p.program, p.step.id, e.language, {**context, "unsubscribe_url": unsubscribe})
    return OutgoingMessage(
        channel="email",
        to=e.email or "",
        body=mail.text,
        subject=mail.subject,
        html=mail.html,
        unsubscribe_url=unsubscribe,
        **common,  # type: ignore[arg-type]
    )


def _chunk_size(deps: DeliveryDeps, channel: str) -> int:
    """Messages marked and sent together: the channel's own size, smaller under a low rate
    limit so one reservation never covers more than a tenth of a second of sends."""
    by_rate = max(1, int(deps.rate_per_second[channel] / 10))
    return max(1, min(deps.channels[channel].batch_size, by_rate))


def _chunks(items: list[Pending], size: int) -> Iterator[list[Pending]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _merge(into: BatchOutcome, part: BatchOutcome) -> None:
    for key, n in part.counts.items():
        into.add(key, n)


def _send_chunk(deps: DeliveryDeps, channel: str, chunk: list[Pending]) -> BatchOutcome:
    """Rate limit, take "sending" for each message, hand them to the provider, record outcomes."""
    outcome = BatchOutcome()
    store = deps.engine.store
    rate = deps.rate_per_second[channel]
    wait_us = store.reserve(channel, len(chunk), int(1_000_000 / rate), int(1_000_000 / rate))
    if wait_us > 0:
        deps.sleep(wait_us / 1_000_000)
    now = deps.engine.clock.now()
    # Time passed while waiting for the limit: re-check quiet hours and caps at the real send instant.
    allowed_now: list[tuple[Pending, datetime]] = []
    deferred: list[tuple[Pending, datetime]] = []
    for p in chunk:
        allowed = _allowed_at(deps, p.enrollment, channel, now)
        (allowed_now if allowed <= now else deferred).append((p, allowed))
    ops: list[Op] = []
    for p, allowed in deferred:
        ops += store.reschedule_ops(p.enrollment.id, channel, allowed)
        outcome.add("deferred")
    stale_s = int(to_virtual(deps.engine.clock, deps.lease_seconds).total_seconds())
    begins = [
        store.begin_send_op(p.enrollment.id, channel, p.cursor, _field(p, channel), now, stale_s)
        for p, _ in allowed_now
    ]
    numbers = [p.enrollment.phone or "" for p, _ in allowed_now] if channel == "sms" else []
    results = store.run([*ops, *begins, *([Command("hmget", (OPTOUT_SMS, numbers))] if numbers else [])])
    statuses = results[len(ops) : len(ops) + len(begins)]
    opted = [v is not None for v in results[-1]] if numbers else [False] * len(begins)
    to_send, finished = _sort_begins(deps, channel, [p for p, _ in allowed_now], statuses, opted, outcome)
    if to_send:
        sent_at = deps.engine.clock.now()
        provider_results = deps.channels[channel].send_many([p.message for p in to_send if p.message], now=sent_at)
        finished += [_classify(p, r) for p, r in zip(to_send, provider_results, strict=True)]
    _finish(deps, channel, finished, outcome)
    return outcome


Finished = tuple[Pending, MessageState, SendResult | None, str]


def _field(p: Pending, channel: str) -> str:
    return record_field(p.step.id, channel, 1)


def _sort_begins(
    deps: DeliveryDeps,
    channel: str,
    chunk: list[Pending],
    statuses: list[str],
    opted: list[bool],
    outcome: BatchOutcome,
) -> tuple[list[Pending], list[Finished]]:
    to_send: list[Pending] = []
    finished: list[Finished] = []
    ops: list[Op] = []
    store = deps.engine.store
    for p, status, opted_out in zip(chunk, statuses, opted, strict=True):
        eid = p.enrollment.id
        if status.startswith("ok"):
            p.attempts = int(status.split(":")[1]) if ":" in status else 1
            if opted_out:
                finished.append((p, MessageState.SKIPPED, None, "opted_out"))
            else:
                to_send.append(p)
        elif status == "opted_out":
            finished.append((p, MessageState.SKIPPED, None, "opted_out"))
        elif status == "stale":
            finished.append((p, MessageState.UNKNOWN, None, "interrupted"))
        elif status.startswith("done:"):  # recorded before, cursor not moved on: move it, send nothing
            record = unpack_record(eid, _field(p, channel), status.removeprefix("done:"))
            finished.append((p, record.state, None, record.reason))
        elif status == "busy":
            later = deps.engine.clock.now() + to_virtual(deps.engine.clock, deps.lease_seconds)
            ops += store.reschedule_ops(eid, channel, later)
            outcome.add("busy")
        else:  # gone, inactive, moved: nothing to send at this cursor
            ops += store.reschedule_ops(eid, channel, None)
            outcome.add("inactive" if status in ("gone", "inactive") else "moved")
    store.run(ops)
    return to_send, finished


def _classify(p: Pending, result: SendResult | Exception) -> Finished:
    if isinstance(result, SendResult):
        return (p, MessageState.SENT, result, "")
    if isinstance(result, TransientChannelError):
        state = MessageState.RETRYING if should_retry(p.attempts) else MessageState.FAILED
        return (p, state, None, result.code or result.reason)
    if isinstance(result, PermanentChannelError):
        return (p, MessageState.FAILED, None, ("optout:" if result.opt_out else "") + (result.code or result.reason))
    if isinstance(result, AmbiguousChannelError):
        return (p, MessageState.UNKNOWN, None, result.code or result.reason)
    return (p, MessageState.UNKNOWN, None, type(result).__name__)


def _finish(deps: DeliveryDeps, channel: str, finished: list[Finished], outcome: BatchOutcome) -> None:
    """Record every outcome and move cursors on (one round trip), then fix the due index (one more)."""
    if not finished:
        return
    engine, store = deps.engine, deps.engine.store
    now = engine.clock.now()
    ops: list[Op] = []
    follow: list[tuple[Pending, datetime | None, int]] = []
    for p, state, result, reason in finished:
        e, mid = p.enrollment, message_id(p.enrollment.id, p.step.id, channel)
        field_name = _field(p, channel)
        outcome.add(state.value)
        _log(p, channel, mid, state.value, reason)
        if state is MessageState.RETRYING:
            retry_at = now + to_virtual(engine.clock, compute_backoff(attempts=p.attempts, jitter=deps.jitter()))
            record = pack_record(state, now, reason=reason, attempts=p.attempts)
            follow.append((p, retry_at, len(ops)))
            ops.append(
                store.finish_send_op(e.id, channel, None, field_name, record, 0, None, [], now, engine.retention_s)
            )
            continue
        due = e.next_due[channel]
        lateness = int((now - due).total_seconds()) if due and state is MessageState.SENT else None
        provider_id = result.provider_id if result else ""
        record = pack_record(state, now, lateness=lateness, provider_id=provider_id, reason=reason, attempts=p.attempts)
        counts = state in (MessageState.SENT, MessageState.UNKNOWN)
        history = [t for t in e.history[channel] if now - t < HISTORY_KEEP] + ([now] if counts else [])
        next_due = due_at_cursor(p.program, channel, p.cursor + 1, e.anchor, ZoneInfo(e.timezone), engine.quiet)
        follow.append((p, next_due, len(ops)))
        ops.append(
            store.finish_send_op(
                e.id, channel, p.cursor, field_name, record, p.cursor + 1, next_due, history, now, engine.retention_s
            )
        )
        ops += _bookkeeping(store, state, channel, p, mid, reason, now)
    results = store.run(ops)
    index_ops: list[Op] = []
    for p, due_next, position in follow:
        status = results[position]
        retrying = status == "recorded" and due_next is not None and p.attempts and _is_retry(ops[position])
        keep = due_next if status == "advanced" or retrying else None
        index_ops += store.reschedule_ops(p.enrollment.id, channel, keep)
    store.run(index_ops)


def _is_retry(op: Op) -> bool:
    """A finish without a cursor records only: the message waits for another try."""
    return isinstance(op, ScriptCall) and op.args[1] == "-"


def _bookkeeping(
    store: Store, state: MessageState, channel: str, p: Pending, mid: str, reason: str, now: datetime
) -> list[Op]:
    """Operator indexes, STOP learned from the provider, and the counters behind status and metrics."""
    ops: list[Op] = []
    if state is MessageState.UNKNOWN:
        ops.append(store.index_op(UNKNOWN_INDEX, mid, now))
    elif state is MessageState.FAILED:
        ops.append(store.index_op(FAILED_INDEX, mid, now))
        if reason.startswith("optout:") and p.enrollment.phone:
            ops.append(Command("hset", (OPTOUT_SMS, p.enrollment.phone, epoch_s(now))))
    minute = f"cd:stats:m:{epoch_s(now) // 60}"
    return [
        *ops,
        Command("hincrby", ("cd:stats:total", f"{state.value}:{channel}:{p.program.id}", 1)),
        Command("hincrby", (minute, f"{state.value}:{channel}", 1)),
        Command("expire", (minute, 7200)),
    ]


def _log(p: Pending, channel: str, mid: str, outcome: str, reason: str) -> None:
    log.info(
        "message",
        message_id=mid,
        enrollment_id=p.enrollment.id,
        step=p.step.id,
        channel=channel,
        outcome=outcome,
        reason=reason or None,
    )


def tick_seconds(scale: float) -> float:
    """Real seconds between dispatch ticks: at most one virtual minute, never below 20 ms."""
    return min(1.0, max(0.02, 60.0 / scale))


def dispatch_window(
    deps: DeliveryDeps,
    enqueue: Callable[[str, list[str]], None],
    *,
    window_seconds: float,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float] = time.monotonic,
) -> int:
    """Run dispatch ticks for about `window_seconds`; one dispatcher at a time (a Redis lock).

    Beat starts one window a second. A window that finds the previous one still running waits
    for it (up to half a window) instead of giving up, so windows follow each other with no gap.
    """
    store = deps.engine.store
    tick = tick_seconds(deps.engine.clock.scale)
    give_up = monotonic() + window_seconds / 2
    token = store.acquire_lock("dispatch", int((window_seconds + 5) * 1000))
    while token is None and monotonic() < give_up:
        sleep(min(tick, 0.02))
        token = store.acquire_lock("dispatch", int((window_seconds + 5) * 1000))
    if token is None:
        return 0
    try:
        deadline = monotonic() + window_seconds
        handed, backlogged = _dispatch(deps, enqueue)
        # A backlog (work claimed, or the in-flight cap reached) is re-checked every 50 ms, so a
        # burst is handed over as fast as workers free up, not one in-flight cap per tick.
        while monotonic() + (pause := min(tick, BUSY_TICK_SECONDS) if backlogged else tick) < deadline:
            sleep(pause)
            more, backlogged = _dispatch(deps, enqueue)
            handed += more
        store.note_dispatch(deps.engine.clock.now(), handed)
        return handed
    finally:
        store.release_lock("dispatch", token)


def send_one(deps: DeliveryDeps, p: Pending, channel: str, *, resend_field: str) -> tuple[MessageState, str]:
    """Send one already-rendered message outside the schedule (operator resend)."""
    store, now = deps.engine.store, deps.engine.clock.now()
    stale_s = int(to_virtual(deps.engine.clock, deps.lease_seconds).total_seconds())
    status = store.run([store.begin_send_op(p.enrollment.id, channel, None, resend_field, now, stale_s)])[0]
    if not str(status).startswith("ok"):
        return MessageState.SKIPPED, str(status)
    wait_us = store.reserve(channel, 1, int(1_000_000 / deps.rate_per_second[channel]), 0)
    if wait_us:
        deps.sleep(wait_us / 1_000_000)
    assert p.message is not None
    result = deps.channels[channel].send_many([p.message], now=deps.engine.clock.now())[0]
    _, state, sent, reason = _classify(p, result)
    if state is MessageState.RETRYING:
        state = MessageState.FAILED
    record = pack_record(state, deps.engine.clock.now(), provider_id=sent.provider_id if sent else "", reason=reason)
    ops: list[Op] = [
        store.finish_send_op(
            p.enrollment.id, channel, None, resend_field, record, 0, None, [], now, deps.engine.retention_s
        )
    ]
    mid = f"{p.enrollment.id}.{resend_field}"
    ops += _bookkeeping(store, state, channel, p, mid, reason, now)
    store.run(ops)
    return state, reason
