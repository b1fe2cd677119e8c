"""Message outcomes: classify what a provider said, record it, move the cursor on, keep counts.

One round trip records every outcome of a chunk and moves each channel's cursor (finish_send.lua,
atomic per enrollment); one more fixes the due index. `sent` and `unknown` count toward caps;
`retrying` waits in the due index for its backoff; `failed` and `unknown` are listed for operators.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from worker.channels.base import SendResult
from worker.clock import to_virtual
from worker.delivery.recipients import settle
from worker.delivery.types import BatchOutcome, DeliveryDeps, Finished, Pending
from worker.errors import AmbiguousChannelError, PermanentChannelError, TransientChannelError
from worker.logs import get_logger
from worker.optouts import provider_opt_out
from worker.records import MessageRecord, MessageState, message_id
from worker.retry import compute_backoff, should_retry
from worker.schedule import due_at_cursor
from worker.store import FAILED_INDEX, UNKNOWN_INDEX, Batch, FinishResult, Reply
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
    follow: list[tuple[Pending, datetime | None, Reply[FinishResult] | None]] = []
    for p, state, result, reason in finished:
        e, mid = p.enrollment, message_id(p.enrollment.id, p.step.id, channel)
        settle(deps, batch, channel, p, state, now)  # the recipient's caps and latest message
        outcome.add(state.value)
        log_outcome(p, channel, mid, state.value, reason)
        if state is MessageState.RETRYING:  # recorded only: waits in the due index for another try
            retry_at = now + to_virtual(engine.clock, compute_backoff(attempts=p.attempts, jitter=deps.jitter()))
            record = MessageRecord(e.id, p.step.id, channel, 1, state, now, reason=reason, attempts=p.attempts)
            batch.finish_send(record, cursor=None, next_due=None, history=(), now=now, retention_s=engine.retention_s)
            follow.append((p, retry_at, None))
            continue
        due = e.next_due[channel]
        lateness = int((now - due).total_seconds()) if due and state is MessageState.SENT else None
        provider_id = result.provider_id if result else ""
        record = MessageRecord(e.id, p.step.id, channel, 1, state, now, lateness, provider_id, reason, p.attempts)
        counts = state in (MessageState.SENT, MessageState.UNKNOWN)
        history = [t for t in e.history[channel] if now - t < HISTORY_KEEP] + ([now] if counts else [])
        next_due = due_at_cursor(p.program, channel, p.cursor + 1, e.anchor, ZoneInfo(e.timezone), engine.quiet)
        finish = batch.finish_send(
            record, cursor=p.cursor, next_due=next_due, history=history, now=now, retention_s=engine.retention_s
        )
        follow.append((p, next_due, finish))
        bookkeeping(batch, state, channel, p, mid, reason, now)
    batch.run()
    index = store.batch()
    for p, due_next, done in follow:  # a retry waits for its time, a step moved on for the next one
        keep = done is None or done.value is FinishResult.ADVANCED
        index.reschedule(p.enrollment.id, channel, due_next if keep else None)
        if done is not None and done.value is FinishResult.COMPLETED and p.enrollment.generation:
            e = p.enrollment  # a re-enrollment ended: the pointer to it (beside generation 0) expires with it
            first = enrollment_id(engine.secret, e.clinic_id, e.patient_ref, e.program)
            index.generation_ended(first, e.generation, engine.retention_s)
    index.run()


def bookkeeping(
    batch: Batch, state: MessageState, channel: str, p: Pending, mid: str, reason: str, now: datetime
) -> None:
    """Operator indexes, STOP learned from the provider, and the counters behind status and metrics."""
    if state is MessageState.UNKNOWN:
        batch.add_to_index(UNKNOWN_INDEX, mid, now)
    elif state is MessageState.FAILED:
        batch.add_to_index(FAILED_INDEX, mid, now)
        if reason.startswith("optout:") and p.enrollment.phone:
            provider_opt_out(batch, p.enrollment.phone, now)
    batch.count_outcome(state, channel, p.program.id, now)


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
