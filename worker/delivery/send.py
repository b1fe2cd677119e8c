"""Send a claimed batch with every guarantee (worker.delivery.dispatch claims it).

Per batch, the Redis work is pipelined: one round trip loads the enrollments, one takes the
"sending" state of a chunk, one records outcomes and moves cursors on. Each message takes its
own "sending" state before its provider call, checked atomically against the enrollment
(still active? still at this step? the channel still enrolled?), so a pause, cancel, STOP or
PATCH stops it even after it was claimed; a "sending" left behind by a crash becomes `unknown`,
never a second text.

A batch holds its claim's token (only it releases its entries), renews its short leases from a
heartbeat thread while it works (worker.delivery.heartbeat) and keeps the deadline the last
renewal confirmed (worker.delivery.deadline): past it, the rest of the batch goes back to the due
index unsent.
On SMS, a number waiting for its introduction (worker.introductions) gets that first. Each
enrollment's step is one of the program version it started on (worker.program_versions).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import worker.delivery.recipients as recipients
from worker.catchup import LATE, is_late
from worker.channels.timeouts import call_deadline
from worker.clock import to_virtual
from worker.delivery.compose import render_all
from worker.delivery.deadline import Deadline, batch_deadline
from worker.delivery.heartbeat import heartbeat
from worker.delivery.outcomes import bookkeeping, classify, log, record_outcomes, tell_clinics
from worker.delivery.types import BatchOutcome, DeliveryDeps, Finished, Pending
from worker.errors import ContentError
from worker.programs import INTRO_STEP, CatchUp, Program
from worker.records import Channel, Enrollment, EnrollmentState, MessageRecord, MessageState, message_id
from worker.schedule import channel_caps, channel_dues, next_allowed
from worker.store import Batch, BeginSend, BeginStatus, Lease, Reply

# An enrollment whose program version does not load (its frozen file gone) is looked at again
# this much later: never sent another version's step, never blocking the rest of its batch.
UNAVAILABLE_HOLD = timedelta(hours=1)


def send_batch(deps: DeliveryDeps, channel: str, handles: Sequence[str]) -> BatchOutcome:
    """Send the due message of each claimed enrollment on `channel`; `handles` are the claims as
    dispatch hands them over (`Claim.handle`: enrollment id and claim token), or bare ids."""
    leases = [Lease.parse(handle) for handle in handles]
    deadline = batch_deadline(leases, deps.lease_seconds)
    with heartbeat(deps.engine.store, channel, leases if deps.renew_leases else [], deadline, deps.lease_ms):
        return _send_leased(deps, channel, leases, deadline)


def _send_leased(deps: DeliveryDeps, channel: str, leases: Sequence[Lease], deadline: Deadline) -> BatchOutcome:
    outcome = BatchOutcome()
    ready, releases = _triage(deps, channel, leases, outcome)
    releases.run()
    ready = render_all(deps, channel, ready, outcome)
    size = _chunk_size(deps, channel)
    chunks = list(_chunks(ready, size))
    # `parallelism` counts messages with the provider at once, whatever the chunk size: a crash
    # mid-batch leaves at most that many "sending" (recorded `unknown`, never sent again).
    at_once = min(max(1, deps.channels[channel].parallelism // size), len(chunks))
    if at_once > 1:
        with ThreadPoolExecutor(max_workers=at_once) as pool:
            for part in pool.map(lambda c: _send_chunk(deps, channel, c, deadline), chunks):
                _merge(outcome, part)
    else:
        for chunk in chunks:
            _merge(outcome, _send_chunk(deps, channel, chunk, deadline))
    return outcome


def _triage(
    deps: DeliveryDeps, channel: str, leases: Sequence[Lease], outcome: BatchOutcome
) -> tuple[list[Pending], Batch]:
    """Keep what is due and allowed now; release or put back the rest (in the batch returned)."""
    store, now, catalog = deps.engine.store, deps.engine.clock.now(), deps.engine.catalog
    ready: list[Pending] = []
    held: list[tuple[Pending, datetime]] = []
    batch = store.batch()
    eids = [lease.enrollment_id for lease in leases]
    for (eid, token), enrollment in zip(leases, store.get_enrollments(eids), strict=True):
        if enrollment is None or enrollment.state is not EnrollmentState.ACTIVE or channel not in enrollment.channels:
            batch.reschedule(eid, channel, None, token=token)
            outcome.add("inactive")
            continue
        try:
            program = catalog.get(enrollment.program, enrollment.version)
        except ContentError as exc:  # its version no longer loads (lint refuses that): hold it, alone
            log.error("program_unavailable", enrollment_id=eid, program=enrollment.program,
                      version=enrollment.version, channel=channel, error=str(exc))  # fmt: skip
            batch.reschedule(eid, channel, now + UNAVAILABLE_HOLD, token=token)
            outcome.add("program_unavailable")
            continue
        pending = next_message(program, enrollment, channel, token)
        due = None if pending is None else pending.due(channel)
        if pending is None or due is None:
            batch.reschedule(eid, channel, None, token=token)
            outcome.add("finished")
            continue
        pending.late = late_now(pending, channel)
        allowed = now if pending.late else _allowed_at(deps, enrollment, channel, max(now, due))
        if allowed > now:
            held.append((pending, allowed))
        else:
            ready.append(pending)
    ready += _opted_out_now(deps, channel, held, batch, outcome)
    return ready, batch


def next_message(program: Program, enrollment: Enrollment, channel: str, token: str = "") -> Pending | None:
    """What the enrollment sends next on `channel`: the number's introduction while one waits,
    else the lesson at the cursor; None once the channel's lessons are done."""
    cursor = enrollment.cursor[channel]
    if channel == Channel.SMS and enrollment.intro_asked is not None:
        return Pending(enrollment, program, INTRO_STEP, cursor, token=token, intro=enrollment.intros)
    steps = program.steps_for(channel)
    if cursor >= len(steps):
        return None
    return Pending(enrollment, program, steps[cursor], cursor, token=token)


def late_now(p: Pending, channel: str) -> bool:
    """Whether the program's catch-up policy skips this lesson as late (worker.catchup)."""
    e = p.enrollment
    if p.intro or p.program.catch_up is CatchUp.ALL:
        return False
    dues = channel_dues(p.program, channel, e.anchor, ZoneInfo(e.timezone), e.anchors)
    return is_late(p.program.catch_up, dues, p.cursor, e.catch_up_mark)


def _opted_out_now(
    deps: DeliveryDeps, channel: str, held: list[tuple[Pending, datetime]], batch: Batch, outcome: BatchOutcome
) -> list[Pending]:
    """Of the messages quiet hours or caps would hold, those whose channel is opted out go on now,
    to be recorded `skipped` (a `retrying` one ends in this pass, not hours later); the rest are
    put back at their allowed time."""
    go, wait = _split_opted_out(deps, channel, held)
    for p, allowed in wait:
        batch.reschedule(p.enrollment.id, channel, allowed, token=p.token)
        outcome.add("deferred")
    return [p for p, _ in go]


def _split_opted_out(
    deps: DeliveryDeps, channel: str, held: list[tuple[Pending, datetime]]
) -> tuple[list[tuple[Pending, datetime]], list[tuple[Pending, datetime]]]:
    """(held messages whose channel is opted out, now marked so: they are only recorded, never
    sent; the others). SMS opt-outs are read in one round trip, only when there are any."""
    numbers = [p.enrollment.phone or "" for p, _ in held] if channel == Channel.SMS else []
    by_number = deps.engine.store.sms_opted_out(numbers) if any(numbers) else [False] * len(held)
    out: list[tuple[Pending, datetime]] = []
    wait: list[tuple[Pending, datetime]] = []
    for (p, allowed), number_out in zip(held, by_number, strict=True):
        p.opted_out = p.opted_out or number_out or p.enrollment.opted_out.get(channel, False)
        (out if p.opted_out else wait).append((p, allowed))
    return out, wait


def _allowed_at(deps: DeliveryDeps, enrollment: Enrollment, channel: str, instant: datetime) -> datetime:
    per_day, per_week = channel_caps(deps.caps, channel)
    tz = ZoneInfo(enrollment.timezone)
    return next_allowed(instant, tz, deps.engine.quiet, enrollment.history[channel], per_day, per_week)


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


def _send_chunk(deps: DeliveryDeps, channel: str, chunk: list[Pending], deadline: Deadline) -> BatchOutcome:
    """Rate limit, take "sending" for each message, hand them to the provider, record outcomes;
    past the batch's deadline, put the chunk back unsent instead."""
    outcome = BatchOutcome()
    store = deps.engine.store
    if deadline.passed:
        return _put_back(deps, channel, chunk, outcome)
    rate = deps.rate_per_second[channel]
    # Reserve on the shared limit only a wait that ends before the deadline (a chunk put back
    # takes no one's turn).
    max_wait_us = max(0, int(deadline.left() * 1_000_000))
    wait_us = store.reserve(channel, len(chunk), int(1_000_000 / rate), int(1_000_000 / rate), max_wait_us)
    if wait_us < 0:
        return _put_back(deps, channel, chunk, outcome)
    if wait_us > 0:
        deps.sleep(wait_us / 1_000_000)
    now = deps.engine.clock.now()
    # Time passed while waiting for the limit: re-check quiet hours and caps at the real send instant.
    allowed_now: list[tuple[Pending, datetime]] = []
    deferred: list[tuple[Pending, datetime]] = []
    for p in chunk:
        allowed = now if p.unsent else _allowed_at(deps, p.enrollment, channel, now)
        (allowed_now if allowed <= now else deferred).append((p, allowed))
    allowed_now, deferred = _within_recipient_caps(deps, channel, allowed_now, deferred, now)
    batch = store.batch()
    for p, allowed in deferred:
        batch.reschedule(p.enrollment.id, channel, allowed, token=p.token)
        outcome.add("deferred")
    stale_s = int(to_virtual(deps.engine.clock, deps.lease_seconds).total_seconds())
    begins = [_begin(batch, p, channel, now, stale_s) for p, _ in allowed_now]
    numbers = [recipients.recipient(deps, channel, p) for p, _ in allowed_now] if channel == Channel.SMS else []
    opted_out = batch.sms_opted_out_indexed(numbers)
    batch.run()
    statuses = [b.value for b in begins]
    opted = opted_out.value if numbers else [False] * len(begins)
    to_send, finished = _sort_begins(deps, channel, [p for p, _ in allowed_now], statuses, opted, outcome)
    if to_send and deadline.passed:  # too late to call the provider: unmark, put back
        finished += [_unsent(p) for p in to_send]
        to_send = []
    if to_send:
        sent_at = deps.engine.clock.now()
        with call_deadline(deadline.at):
            provider_results = deps.channels[channel].send_many([p.message for p in to_send if p.message], now=sent_at)
        finished += [classify(p, r) for p, r in zip(to_send, provider_results, strict=True)]
    record_outcomes(deps, channel, finished, outcome)
    return outcome


def _within_recipient_caps(
    deps: DeliveryDeps,
    channel: str,
    allowed_now: list[tuple[Pending, datetime]],
    deferred: list[tuple[Pending, datetime]],
    now: datetime,
) -> tuple[list[tuple[Pending, datetime]], list[tuple[Pending, datetime]]]:
    """Each message takes its place in its recipient's sends (caps per number or address, atomic
    across workers: worker.delivery.recipients); one a full cap holds joins the deferred. One
    triaged as opted out takes no place: it is only recorded `skipped`, in this pass."""
    skipped = [(p, now) for p, _ in allowed_now if p.unsent]
    passed, held = recipients.reserve(deps, channel, [p for p, _ in allowed_now if not p.unsent], now)
    opted_out, held = _split_opted_out(deps, channel, held)
    return [(p, now) for p in passed] + skipped + [(p, now) for p, _ in opted_out], deferred + held


def _begin(batch: Batch, p: Pending, channel: str, now: datetime, stale_s: int) -> Reply[BeginSend]:
    """Take "sending" for `p`: an introduction against the one waiting, a lesson against its cursor."""
    mid = p.message_id(channel)
    if p.intro:
        return batch.begin_intro(mid, now=now, stale_s=stale_s)
    return batch.begin_send(mid, cursor=p.cursor, now=now, stale_s=stale_s)


def _unsent(p: Pending) -> Finished:
    """A message whose "sending" was taken when the batch's deadline passed: `queued` again, with
    the attempt not counted, due now (another task sends it under a fresh lease)."""
    p.attempts -= 1
    return (p, MessageState.QUEUED, None, "deadline")


def _put_back(deps: DeliveryDeps, channel: str, chunk: list[Pending], outcome: BatchOutcome) -> BatchOutcome:
    """The batch's deadline passed: the chunk goes back to the due index, due now, nothing sent
    or marked (another task sends it, under a fresh lease)."""
    now, batch = deps.engine.clock.now(), deps.engine.store.batch()
    for p in chunk:
        batch.reschedule(p.enrollment.id, channel, now, token=p.token)
    batch.run()
    outcome.add("expired", len(chunk))
    return outcome


def _sort_begins(
    deps: DeliveryDeps,
    channel: str,
    chunk: list[Pending],
    statuses: list[BeginSend],
    opted: list[bool],
    outcome: BatchOutcome,
) -> tuple[list[Pending], list[Finished]]:
    to_send: list[Pending] = []
    finished: list[Finished] = []
    batch = deps.engine.store.batch()
    now = deps.engine.clock.now()
    for p, begun, opted_out in zip(chunk, statuses, opted, strict=True):
        eid, status = p.enrollment.id, begun.status
        if status is BeginStatus.OK:
            p.attempts = begun.attempts
            recipients.adopt(p)
            if p.late:
                finished.append((p, MessageState.SKIPPED, None, LATE))
            elif opted_out:
                finished.append((p, MessageState.SKIPPED, None, "opted_out"))
            elif p.opted_out:  # opted back in since triage: not now (quiet hours, caps); it waits
                finished.append((p, MessageState.RETRYING, None, "held"))
            else:
                to_send.append(p)
        elif status is BeginStatus.OPTED_OUT:
            finished.append((p, MessageState.SKIPPED, None, "opted_out"))
        elif status is BeginStatus.STALE:
            finished.append((p, MessageState.UNKNOWN, None, "interrupted"))
        elif status is BeginStatus.DONE and begun.record is not None:  # cursor not moved on: move it, send nothing
            finished.append((p, begun.record.state, None, begun.record.reason))
        elif status is BeginStatus.BUSY:
            later = now + to_virtual(deps.engine.clock, deps.lease_seconds)
            batch.reschedule(eid, channel, later, token=p.token)
            recipients.release(batch, channel, p)
            outcome.add("busy")
        elif status in (BeginStatus.MOVED, BeginStatus.INTRO):
            # Another message is next (the cursor moved, an introduction waits): look again now.
            batch.reschedule(eid, channel, now, token=p.token)
            recipients.release(batch, channel, p)
            outcome.add(status.value)
        else:  # gone, inactive, dropped: nothing to send on this channel
            batch.reschedule(eid, channel, None, token=p.token)
            recipients.release(batch, channel, p)
            outcome.add("inactive" if status in (BeginStatus.GONE, BeginStatus.INACTIVE) else status.value)
    batch.run()
    return to_send, finished


def send_one(deps: DeliveryDeps, p: Pending, channel: str, *, occurrence: int) -> tuple[MessageState, str]:
    """Send one already-rendered message outside the schedule (operator resend) as `occurrence`."""
    store, now = deps.engine.store, deps.engine.clock.now()
    stale_s = int(to_virtual(deps.engine.clock, deps.lease_seconds).total_seconds())
    mid = message_id(p.enrollment.id, p.step.id, channel, occurrence)
    begun = store.begin_send(mid, cursor=None, now=now, stale_s=stale_s)
    if begun.status is not BeginStatus.OK:
        _release_unsent(deps, channel, p)
        return MessageState.SKIPPED, begun.status.value
    recipients.adopt(p)
    wait_us = store.reserve(channel, 1, int(1_000_000 / deps.rate_per_second[channel]), 0)
    if wait_us:
        deps.sleep(wait_us / 1_000_000)
    assert p.message is not None
    result = deps.channels[channel].send_many([p.message], now=deps.engine.clock.now())[0]
    _, state, sent, reason = classify(p, result)
    if state is MessageState.RETRYING:
        state = MessageState.FAILED
    at, provider_id = deps.engine.clock.now(), sent.provider_id if sent else ""
    record = MessageRecord(p.enrollment.id, p.step.id, channel, occurrence, state, at, None, provider_id, reason)
    batch = store.batch()
    batch.finish_send(record, cursor=None, next_due=None, history=(), now=now, retention_s=deps.engine.retention_s)
    bookkeeping(batch, state, channel, p, mid, reason, now)
    recipients.settle(deps, batch, channel, p, state, now)
    batch.run()
    tell_clinics(deps, channel, [(p, state, sent, reason)], [], at)
    return state, reason


def _release_unsent(deps: DeliveryDeps, channel: str, p: Pending) -> None:
    """Give back the place `p` reserved in its recipient's sends (worker.delivery.recipients)."""
    batch = deps.engine.store.batch()
    recipients.release(batch, channel, p)
    batch.run()
