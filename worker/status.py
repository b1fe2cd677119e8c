"""What `caredrip status` shows: queues, due backlog, lateness, leases, recent outcomes, workers.

`snapshot()` reads the figures in one round trip (the same snapshot feeds /metrics, see
worker.metrics); `gather()` makes it the JSON-ready dict whose keys are the contract documented
in the README; `format_table()` turns that into the human view. Reads only.

Keys of `caredrip status --json`:
  queues                  {intake, dispatch, send, webhooks}: tasks waiting in each broker queue
  due_now                 {sms, email}: enrollments whose next message is due (caredrip clock)
  due_next_hour           {sms, email}: due after now and within the next hour
  oldest_overdue_seconds  {sms, email}: how late the oldest due message is; 0 when none
  in_flight               {sms, email}: claimed messages holding a lease (queued or sending)
  last_hour               {sent, failed, unknown, retrying, skipped}: outcomes in the last 60 minutes
  unknown_total, failed_total   messages waiting for an operator (`caredrip messages …`)
  intake_failed_total     intake tasks refused (unknown clinic, bad body) since the store began
                          (`caredrip intake failed`)
  alerts_open             red-flag alerts no one has acknowledged yet (`caredrip alerts`)
  alert_oldest_age_seconds  how long the oldest of them has waited; 0 when none
  dispatch                {last_at, runs, handed}: the last dispatch run (ISO time or null), how many
                          runs and messages handed over so far: a stale last_at means beat is down
  webhooks                {pending, in_flight, failed_total, delivered_total, emit_errors_total}: clinic-event
                          deliveries (webhooks and alert emails) waiting or being tried, given up after 24 h,
                          delivered, and events that could not be stored (worker.events)
  workers                 names of Celery workers answering a ping within 1 s
  now                     the caredrip clock's time, ISO 8601 UTC
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis

from worker.records import CHANNELS
from worker.store import FAILED_INDEX, UNKNOWN_INDEX, AlertSummary, CountKey, DispatchInfo, Store, WebhookFigures

QUEUES = ("intake", "dispatch", "send", "webhooks")
LAST_HOUR_STATES = ("sent", "failed", "unknown", "retrying", "skipped")
HORIZON = timedelta(hours=1)
PING_TIMEOUT = 1.0

Status = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChannelFigures:
    """One channel's due index and leases at the snapshot's instant."""

    due_now: int
    due_next_hour: int  # due after now and within the next hour
    oldest_overdue: timedelta  # how late the oldest due entry is; 0 when none is due
    in_flight: int


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """Everything status and /metrics report, read in one round trip (workers aside)."""

    now: datetime
    queues: dict[str, int]
    channels: dict[str, ChannelFigures]
    last_hour: dict[str, int]
    unknown_total: int
    failed_total: int
    intake_failed_total: int
    dispatch: DispatchInfo
    totals: dict[CountKey, int]
    webhooks: WebhookFigures
    alerts: AlertSummary

    @property
    def alert_oldest_age(self) -> timedelta:
        """How long the oldest open alert has waited (0 when none is open)."""
        oldest = self.alerts.oldest_raised_at
        return max(self.now - oldest, timedelta(0)) if oldest is not None else timedelta(0)


def snapshot(store: Store, now: datetime) -> StatusSnapshot:
    """The store's figures at `now` (caredrip clock), in one round trip."""
    batch = store.batch()
    queues = {queue: batch.queue_length(queue) for queue in QUEUES}
    due = {ch: batch.due_counts(ch, now, now + HORIZON) for ch in CHANNELS}
    leased = {ch: batch.in_flight(ch) for ch in CHANNELS}
    recent, totals = batch.recent_outcomes(now, 60), batch.totals()
    unknown, failed = batch.index_size(UNKNOWN_INDEX), batch.index_size(FAILED_INDEX)
    intake_failed = batch.intake_failed_total()
    dispatch = batch.dispatch_info()
    webhooks = batch.webhook_figures()
    alerts = batch.alert_summary()
    batch.run()
    channels: dict[str, ChannelFigures] = {}
    for ch in CHANNELS:
        due_now, due_by_horizon, oldest = due[ch].value
        late = now - oldest if oldest is not None and oldest <= now else timedelta(0)
        channels[ch] = ChannelFigures(due_now, due_by_horizon - due_now, late, leased[ch].value)
    return StatusSnapshot(
        now=now,
        queues={queue: n.value for queue, n in queues.items()},
        channels=channels,
        last_hour={state: recent.value.get(state, 0) for state in LAST_HOUR_STATES},
        unknown_total=unknown.value,
        failed_total=failed.value,
        intake_failed_total=intake_failed.value,
        dispatch=dispatch.value,
        totals=totals.value,
        webhooks=webhooks.value,
        alerts=alerts.value,
    )


def gather(store: Store, now: datetime, ping_workers: Callable[[], list[str]]) -> Status:
    """Everything `caredrip status` reports, as one JSON-ready dict."""
    return as_json(snapshot(store, now), ping_workers())


def as_json(snap: StatusSnapshot, workers: list[str]) -> Status:
    """The snapshot in the shape `caredrip status --json` prints (documented in the README)."""
    per_channel = snap.channels.items()
    return {
        "queues": snap.queues,
        "due_now": {ch: f.due_now for ch, f in per_channel},
        "due_next_hour": {ch: f.due_next_hour for ch, f in per_channel},
        "oldest_overdue_seconds": {ch: int(f.oldest_overdue.total_seconds()) for ch, f in per_channel},
        "in_flight": {ch: f.in_flight for ch, f in per_channel},
        "last_hour": snap.last_hour,
        "unknown_total": snap.unknown_total,
        "failed_total": snap.failed_total,
        "intake_failed_total": snap.intake_failed_total,
        "alerts_open": snap.alerts.open,
        "alert_oldest_age_seconds": int(snap.alert_oldest_age.total_seconds()),
        "dispatch": {
            "last_at": snap.dispatch.last_at.isoformat() if snap.dispatch.last_at else None,
            "runs": snap.dispatch.runs,
            "handed": snap.dispatch.handed,
        },
        "webhooks": webhooks_json(snap.webhooks),
        "workers": workers,
        "now": snap.now.isoformat(),
    }


def webhooks_json(figures: WebhookFigures) -> dict[str, int]:
    counts = figures.counts
    return {
        "pending": figures.pending,
        "in_flight": figures.in_flight,
        "failed_total": figures.failed,
        "delivered_total": sum(n for k, n in counts.items() if k.endswith(":delivered")),
        "emit_errors_total": counts.get("emit:error", 0),
    }


def celery_workers(timeout: float = PING_TIMEOUT) -> list[str]:
    """Names of the Celery workers that answer a broadcast ping within `timeout` seconds."""
    from kombu.exceptions import OperationalError

    from worker.celery_app import app

    try:
        replies = app.control.inspect(timeout=timeout).ping() or {}
    except (OSError, redis.RedisError, OperationalError):
        return []
    return sorted(replies)


def format_table(status: Status) -> str:
    """The human view of `status`: one row per measure, one column per channel."""
    rows = [
        ("due now", status["due_now"]),
        ("due in the next hour", status["due_next_hour"]),
        ("oldest overdue", {ch: _duration(s) for ch, s in status["oldest_overdue_seconds"].items()}),
        ("in flight (leased)", status["in_flight"]),
    ]
    lines = [f"caredrip status at {status['now']}", "", f"{'':24}{'sms':>10}{'email':>10}"]
    lines += [f"{label:24}{values['sms']!s:>10}{values['email']!s:>10}" for label, values in rows]
    queues = status["queues"]
    lines += ["", "queues        " + "   ".join(f"{name} {queues[name]}" for name in QUEUES)]
    lines.append("last hour     " + "   ".join(f"{state} {n}" for state, n in status["last_hour"].items()))
    lines.append(
        f"need an operator   unknown {status['unknown_total']}   failed {status['failed_total']}"
        "   (caredrip messages unknown|failed)"
    )
    lines.append(f"intake refused     {status['intake_failed_total']}   (caredrip intake failed)")
    oldest = _duration(status["alert_oldest_age_seconds"])
    lines.append(f"red-flag alerts    {status['alerts_open']} open   oldest {oldest}   (caredrip alerts)")
    dispatch = status["dispatch"]
    lines.append(f"last dispatch {dispatch['last_at'] or 'never'}   ({dispatch['runs']} runs)")
    hooks = status["webhooks"]
    lines.append(
        f"clinic events      pending {hooks['pending']}   in flight {hooks['in_flight']}"
        f"   failed {hooks['failed_total']}   delivered {hooks['delivered_total']}"
    )
    workers = status["workers"]
    lines.append(f"workers       {', '.join(workers) if workers else 'none answering'}")
    return "\n".join(lines)


def _duration(seconds: int) -> str:
    if seconds <= 0:
        return "-"
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
