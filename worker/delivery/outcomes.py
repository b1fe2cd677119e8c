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
from worker.delivery.types import BatchOutcome, DeliveryDeps, Finished, Pending
from worker.errors import AmbiguousChannelError, PermanentChannelError, TransientChannelError
from worker.logs import get_logger
from worker.optouts import provider_opt_out_op
from worker.records import MessageState, epoch_s, message_id
from worker.retry import compute_backoff, should_retry
from worker.schedule import due_at_cursor
from worker.store import Command, Op, ScriptCall, Store
from worker.store.codec import pack_record, record_field
from worker.store.keys import FAILED_INDEX, UNKNOWN_INDEX

log = get_logger("caredrip.delivery")
HISTORY_KEEP = timedelta(days=8)


def record_field_of(p: Pending, channel: str) -> str:
    return record_field(p.step.id, channel, 1)


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
    ops: list[Op] = []
    follow: list[tuple[Pending, datetime | None, int]] = []
    for p, state, result, reason in finished:
        e, mid = p.enrollment, message_id(p.enrollment.id, p.step.id, channel)
        field_name = record_field_of(p, channel)
        outcome.add(state.value)
        log_outcome(p, channel, mid, state.value, reason)
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
        ops += bookkeeping(store, state, channel, p, mid, reason, now)
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


def bookkeeping(
    store: Store, state: MessageState, channel: str, p: Pending, mid: str, reason: str, now: datetime
) -> list[Op]:
    """Operator indexes, STOP learned from the provider, and the counters behind status and metrics."""
    ops: list[Op] = []
    if state is MessageState.UNKNOWN:
        ops.append(store.index_op(UNKNOWN_INDEX, mid, now))
    elif state is MessageState.FAILED:
        ops.append(store.index_op(FAILED_INDEX, mid, now))
        if reason.startswith("optout:") and p.enrollment.phone:
            ops.append(provider_opt_out_op(store, p.enrollment.phone, now))
    minute = f"cd:stats:m:{epoch_s(now) // 60}"
    return [
        *ops,
        Command("hincrby", ("cd:stats:total", f"{state.value}:{channel}:{p.program.id}", 1)),
        Command("hincrby", (minute, f"{state.value}:{channel}", 1)),
        Command("expire", (minute, 7200)),
    ]


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
