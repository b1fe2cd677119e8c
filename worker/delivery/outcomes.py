"""Message outcomes: classify what a provider said, record it, move the cursor on, keep counts.

One round trip records every outcome of a chunk and moves each channel's cursor (finish_send.lua,
atomic per enrollment; an introduction lets its number's lessons go instead); one more fixes the
due index, through each claim's token. `sent` and `unknown` count toward caps; `retrying` waits in
the due index for its backoff, `queued` (put back unsent) is due again at once; `failed` and
`unknown` are listed for operators.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from worker.channels.base import SendResult
from worker.clinic_events import enrollment_completed, message_failed, number_opted_out
from worker.clock import to_virtual
from worker.delivery.recipients import settle
from worker.delivery.types import BatchOutcome, DeliveryDeps, Finished, Pending
from worker.errors import AmbiguousChannelError, PermanentChannelError, TransientChannelError
from worker.logs import get_logger
from worker.optouts import provider_opt_out
from worker.records import MessageRecord, MessageState
from worker.retry import compute_backoff, should_retry
from worker.routing import blind_index
from worker.schedule import due_at_cursor
from worker.store import FAILED_INDEX, UNKNOWN_INDEX, Batch, FinishResult, FinishSend, Reply
from worker.tokens import enrollment_id

log = get_logger("caredrip.delivery")
HISTORY_KEEP = timedelta(days=8)


def classify(p: Pending, result: SendResult | Exception) -> Finished:
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


def record_outcomes(deps: DeliveryDeps, channel: str, finished: list[Finished], outcome: BatchOutcome) -> None:
    """Record every outcome and move cursors on (one round trip), then fix the due index (one more)."""
    if not finished:
        return
    engine, store = deps.engine, deps.engine.store
    now = engine.clock.now()
    batch = store.batch()
    follow: list[tuple[Pending, datetime | None, Reply[FinishSend] | None]] = []
    for p, state, result, reason in finished:
        e, mid, occurrence = p.enrollment, p.message_id(channel), p.intro or 1
        settle(deps, batch, channel, p, state, now)  # the recipient's caps and latest message
        outcome.add(state.value)
        log_outcome(p, channel, mid, state.value, reason)
        if state in (MessageState.RETRYING, MessageState.QUEUED):  # recorded only: it waits in the due index
            # `queued`: put back unsent past the batch's deadline, due again at once
            wait = compute_backoff(attempts=p.attempts, jitter=deps.jitter()) if state is MessageState.RETRYING else 0
            retry_at = now + to_virtual(engine.clock, wait)
            record = MessageRecord(e.id, p.step.id, channel, occurrence, state, now, reason=reason, attempts=p.attempts)
            batch.finish_send(record, cursor=None, next_due=None, history=(), now=now, retention_s=engine.retention_s)
            follow.append((p, retry_at, None))
            continue
        due = p.due(channel)
        lateness = int((now - due).total_seconds()) if due and state is MessageState.SENT else None
        provider = result.provider_id if result else ""
        record = MessageRecord(e.id, p.step.id, channel, occurrence, state, now, lateness, provider, reason, p.attempts)
        counts = state in (MessageState.SENT, MessageState.UNKNOWN)
        history = [t for t in e.history[channel] if now - t < HISTORY_KEEP] + ([now] if counts else [])
        if p.intro:  # the introduction done: the lesson it went before is due again as it was
            finish = batch.finish_intro(record, history=history, now=now, retention_s=engine.retention_s)
            follow.append((p, e.next_due[channel], finish))
        else:
            tz = ZoneInfo(e.timezone)
            next_due = due_at_cursor(p.program, channel, p.cursor + 1, e.anchor, tz, engine.quiet, e.anchors)
            finish = batch.finish_send(
                record,
                cursor=p.cursor,
                next_due=next_due,
                history=history,
                now=now,
                retention_s=engine.retention_s,
                timezone=e.timing_basis,
            )
            follow.append((p, next_due, finish))
        bookkeeping(batch, state, channel, p, mid, reason, now, lateness)
    batch.run()
    index = store.batch()
    for p, due_next, done in follow:
        at = _entry_due(deps, index, p, channel, due_next, done, now)
        index.reschedule(p.enrollment.id, channel, at, token=p.token)
        if done is not None and done.value.result is FinishResult.COMPLETED and p.enrollment.generation:
            e = p.enrollment  # a re-enrollment ended: the pointer to it (beside generation 0) expires with it
            first = enrollment_id(engine.secret, e.clinic_id, e.patient_ref, e.program)
            index.generation_ended(first, e.generation, engine.retention_s)
    index.run()
    completed = [p for p, _, done in follow if done is not None and done.value.result is FinishResult.COMPLETED]
    tell_clinics(deps, channel, finished, completed, now)
    if completed:  # an ended program's records are packed into a few fields (worker.store.packed)
        store.compact_records([p.enrollment.id for p in completed])
        store.park_sends(
            [blind_index(deps.engine.index, p.enrollment.phone) for p in completed if p.enrollment.phone], now
        )


def tell_clinics(
    deps: DeliveryDeps, channel: str, finished: list[Finished], completed: list[Pending], now: datetime
) -> None:
    """The clinic events of a recorded chunk: failures, opt-outs the provider reported, completions
    (worker.clinic_events: never raises)."""
    engine, opted_out = deps.engine, set()
    for p, state, _result, reason in finished:
        if state is MessageState.FAILED:
            message_failed(engine, p.enrollment, p.message_id(channel), channel, state, reason, now)
            if reason.startswith("optout:") and p.enrollment.phone:
                opted_out.add(p.enrollment.phone)
    for number in sorted(opted_out):
        number_opted_out(engine, number)
    for p in completed:
        enrollment_completed(engine, p.enrollment, now)


def _entry_due(
    deps: DeliveryDeps,
    index: Batch,
    p: Pending,
    channel: str,
    due_next: datetime | None,
    done: Reply[FinishSend] | None,
    now: datetime,
) -> datetime | None:
    """When the enrollment's due entry is next looked at: a retry at its time, a step moved on
    at the next one's (computed again, and set only while the cursor stays, if the timezone
    changed meanwhile), after an introduction at the lesson's; `now` where another message may
    be next (the cursor was moved, another introduction waits); never once it has ended."""
    if done is None:
        return due_next
    finish = done.value
    if finish.result in (FinishResult.ADVANCED, FinishResult.INTRODUCED):
        return due_next
    if finish.result is FinishResult.RETIMED:  # the timezone or anchors changed: read them again
        e, cursor = deps.engine.store.get_enrollment(p.enrollment.id) or p.enrollment, p.cursor + 1
        tz = ZoneInfo(finish.timezone or e.timezone)
        due = due_at_cursor(p.program, channel, cursor, e.anchor, tz, deps.engine.quiet, e.anchors)
        index.retime(e.id, channel, cursor, due)
        return due
    if finish.result is FinishResult.MOVED or (p.intro and finish.result is FinishResult.RECORDED):
        return now
    return None


def bookkeeping(
    batch: Batch,
    state: MessageState,
    channel: str,
    p: Pending,
    mid: str,
    reason: str,
    now: datetime,
    lateness_s: int | None = None,
) -> None:
    """Operator indexes, STOP learned from the provider, and the counters behind status and metrics
    (a sent message's lateness among them: same round trip, no call of its own)."""
    if state is MessageState.UNKNOWN:
        batch.add_to_index(UNKNOWN_INDEX, mid, now)
    elif state is MessageState.FAILED:
        batch.add_to_index(FAILED_INDEX, mid, now)
        if reason.startswith("optout:") and p.enrollment.phone:
            provider_opt_out(batch, p.enrollment.phone, now)
    batch.count_outcome(state, channel, p.program.id, now, lateness_s)


def log_outcome(p: Pending, channel: str, mid: str, outcome: str, reason: str) -> None:
    log.info(
        "message",
        message_id=mid,
        enrollment_id=p.enrollment.id,
        step=p.step.id,
        channel=channel,
        outcome=outcome,
        reason=reason or None,
    )
