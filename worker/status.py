"""What `caredrip status` shows: queues, due backlog, lateness, leases, recent outcomes, workers.

`gather()` builds one JSON-ready dict (its keys are the contract documented in the README);
`format_table()` turns it into the human view. Reads only; nothing here changes Redis.

Keys of `caredrip status --json`:
  queues                  {intake, dispatch, send}: tasks waiting in each broker queue
  due_now                 {sms, email}: enrollments whose next message is due (caredrip clock)
  due_next_hour           {sms, email}: due after now and within the next hour
  oldest_overdue_seconds  {sms, email}: how late the oldest due message is; 0 when none
  in_flight               {sms, email}: claimed messages holding a lease (queued or sending)
  last_hour               {sent, failed, unknown, retrying, skipped}: outcomes in the last 60 minutes
  unknown_total, failed_total   messages waiting for an operator (`caredrip messages …`)
  dispatch                {last_at, runs, handed}: the last dispatch run (ISO time or null), how many
                          runs and messages handed over so far: a stale last_at means beat is down
  workers                 names of Celery workers answering a ping within 1 s
  now                     the caredrip clock's time, ISO 8601 UTC
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import redis

from worker.records import epoch_s, from_epoch_s
from worker.store import Store
from worker.store.keys import CHANNELS, FAILED_INDEX, UNKNOWN_INDEX

QUEUES = ("intake", "dispatch", "send")
LAST_HOUR_STATES = ("sent", "failed", "unknown", "retrying", "skipped")
# kombu's Redis transport keeps one list per queue and priority step: `send`, `send\x06\x163`, …
_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)
PING_TIMEOUT = 1.0

Status = dict[str, Any]


def queue_lengths(client: redis.Redis, queues: Sequence[str] = QUEUES) -> dict[str, int]:
    """Tasks waiting in each kombu queue list (all priority steps) on the broker Redis."""
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        for name in (queue, *(f"{queue}{_PRIORITY_SEP}{step}" for step in _PRIORITY_STEPS)):
            pipe.llen(name)
    lengths = [int(n) for n in pipe.execute()]
    per = 1 + len(_PRIORITY_STEPS)
    return {queue: sum(lengths[i * per : (i + 1) * per]) for i, queue in enumerate(queues)}


def due_backlog(store: Store, now: datetime) -> dict[str, dict[str, int]]:
    """due_now, due_next_hour and oldest_overdue_seconds, per channel."""
    section: dict[str, dict[str, int]] = {"due_now": {}, "due_next_hour": {}, "oldest_overdue_seconds": {}}
    for channel in CHANNELS:
        due_now, due_by_horizon, oldest = store.due_counts(channel, now, now + timedelta(hours=1))
        section["due_now"][channel] = due_now
        section["due_next_hour"][channel] = due_by_horizon - due_now
        late = (now - oldest).total_seconds() if oldest is not None and oldest <= now else 0.0
        section["oldest_overdue_seconds"][channel] = int(late)
    return section


def last_hour(client: redis.Redis, now: datetime) -> dict[str, int]:
    """Outcomes of the last 60 minutes (caredrip clock), summed over the per-minute stats hashes."""
    minute = epoch_s(now) // 60
    pipe = client.pipeline(transaction=False)
    for m in range(minute - 59, minute + 1):
        pipe.hgetall(f"cd:stats:m:{m}")
    totals = dict.fromkeys(LAST_HOUR_STATES, 0)
    for counts in pipe.execute():
        for field, value in counts.items():
            state = _text(field).split(":", 1)[0]
            if state in totals:
                totals[state] += int(value)
    return totals


def operator_totals(client: redis.Redis) -> dict[str, int]:
    """Messages waiting for an operator: in state unknown, and failed."""
    return {"unknown_total": int(client.zcard(UNKNOWN_INDEX)), "failed_total": int(client.zcard(FAILED_INDEX))}


def gather(store: Store, now: datetime, ping_workers: Callable[[], list[str]]) -> Status:
    """Everything `caredrip status` reports, as one JSON-ready dict."""
    client = store.redis
    return {
        "queues": queue_lengths(client),
        **due_backlog(store, now),
        "in_flight": {channel: store.in_flight(channel) for channel in CHANNELS},
        "last_hour": last_hour(client, now),
        **operator_totals(client),
        "dispatch": dispatch_heartbeat(store),
        "workers": ping_workers(),
        "now": now.isoformat(),
    }


def dispatch_heartbeat(store: Store) -> dict[str, object]:
    info = store.dispatch_info()
    last = info.get("last_at")
    return {
        "last_at": from_epoch_s(last).isoformat() if last else None,
        "runs": info.get("runs", 0),
        "handed": info.get("handed", 0),
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
    lines.append(f"need an operator   unknown {status['unknown_total']}   failed {status['failed_total']}"
                 "   (caredrip messages unknown|failed)")
    dispatch = status["dispatch"]
    lines.append(f"last dispatch {dispatch['last_at'] or 'never'}   ({dispatch['runs']} runs)")
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


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
