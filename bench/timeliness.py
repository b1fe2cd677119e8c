"""Figure 5: a backlog drained at the per-sender limit, and quiet hours holding while it runs.

N SMS-only enrollments have their welcome due at one instant; SMS_RATE_PER_SECOND=200; one
`celery worker -P prefork -c 2` (2 worker processes) sends them while this process dispatches
every second, as the beat task does. The quiet window of the run (CAREDRIP_QUIET_HOURS
"HH:MM-08:00", recipient local time) starts at a minute boundary placed about two thirds into the
drain, so the backlog runs across the start of quiet hours exactly as it would across 21:00
(real time must pass: the rate limit and lateness are real, so the clock cannot be scaled).
Reported: drain of the messages sent before the boundary against the ideal (count / 200 s),
p50 / p99 lateness (sent_at - due_at) and their excess over the ideal queue position, messages
sent inside quiet hours (must be 0), and the rest found in the due index at 08:00 the next local
morning: sent + deferred == N, none dropped, none twice.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/<name>.py` from anywhere

import redis

from bench._common import (
    awake_timezone,
    build_enrollment,
    bulk_store,
    emit,
    live_deps,
    private_redis,
    quiet_logs,
    redis_info,
    sms_only,
    use_broker,
    worker_env,
    workers,
)
from worker import tasks
from worker.delivery.dispatch import dispatch_once
from worker.records import epoch_ms
from worker.store.keys import due_key, lease_key

RATE = 200.0
TICK_SECONDS = 1.0


def quiet_boundary(drain_before: float) -> datetime:
    """The first whole minute at least `drain_before` seconds (plus setup time) from now."""
    now = datetime.now(UTC)
    boundary = (now + timedelta(seconds=drain_before + 8)).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return boundary


def main() -> None:
    quiet_logs()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=6000)
    args = parser.parse_args()
    n = args.messages
    before_s = n / RATE * 2 / 3  # the boundary falls about two thirds into the ideal drain
    tz_name = awake_timezone((9, 19))
    tz = ZoneInfo(tz_name)
    boundary = quiet_boundary(before_s)
    quiet = f"{boundary.astimezone(tz):%H:%M}-08:00"
    with private_redis() as server:
        url, var = server.url, server.data_dir.parent / "var"
        outbox = var / "outbox.jsonl"
        deps = live_deps(url, outbox, rate=RATE, quiet=quiet)
        use_broker(url)
        env = worker_env(url, var, SMS_RATE_PER_SECOND=str(int(RATE)), CAREDRIP_QUIET_HOURS=quiet)
        client = redis.Redis.from_url(url, decode_responses=True)
        with workers("worker.celery_app", url, env, pool="prefork", concurrency=2, queues="send"):
            start = boundary - timedelta(seconds=before_s)
            time.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds() - 0.5))
            due = datetime.now(UTC)
            bulk_store(deps, [build_enrollment(deps, sms_only(i, tz_name), due) for i in range(n)])
            t0 = time.perf_counter()
            first_dispatch = datetime.now(UTC)
            deadline = time.monotonic() + before_s * 2 + 120
            while True:
                dispatch_once(deps, tasks.enqueue_send)
                pending = int(client.zcount(due_key("sms"), "-inf", epoch_ms(datetime.now(UTC)))) + int(
                    client.zcard(lease_key("sms"))
                )
                if pending == 0 and datetime.now(UTC) > boundary:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{pending} still pending")
                time.sleep(TICK_SECONDS)
            wall = time.perf_counter() - t0
        morning = datetime.combine(
            boundary.astimezone(tz).date() + timedelta(days=1), datetime.min.time().replace(hour=8), tzinfo=tz
        )
        at_8 = epoch_ms(morning)
        deferred = int(client.zcount(due_key("sms"), at_8, at_8))
        leased = int(client.zcard(lease_key("sms")))
        info = redis_info(url)
        lines = [json.loads(line) for line in outbox.read_text().splitlines()] if outbox.exists() else []
    ids = [line["id"] for line in lines]
    sent_at = sorted(datetime.fromisoformat(line["sent_at"]) for line in lines)
    in_quiet = sum(1 for t in sent_at if t >= boundary)
    lateness = sorted(
        (datetime.fromisoformat(line["sent_at"]) - datetime.fromisoformat(line["due_at"])).total_seconds()
        for line in lines
    )
    excess = [late - k / RATE for k, late in enumerate(lateness)]
    sent = len(lines)
    drain_s = (sent_at[-1] - first_dispatch).total_seconds() if sent_at else 0.0
    emit(
        {
            "figure": "timeliness",
            "messages": n,
            "rate_limit": RATE,
            "timezone": tz_name,
            "quiet_hours": quiet,
            "boundary_utc": boundary.isoformat(),
            "boundary_after_s": round((boundary - first_dispatch).total_seconds(), 2),
            "sent_before_boundary": sent,
            "drain_seconds": round(drain_s, 3),
            "ideal_seconds": round(sent / RATE, 3),
            "drain_ratio": round(drain_s / (sent / RATE), 4) if sent else None,
            "lateness_p50_s": round(statistics.median(lateness), 3),
            "lateness_p99_s": round(lateness[int(0.99 * (sent - 1))], 3),
            "excess_lateness_p50_s": round(statistics.median(excess), 3),
            "excess_lateness_p99_s": round(sorted(excess)[int(0.99 * (sent - 1))], 3),
            "sent_in_quiet_hours": in_quiet,
            "duplicates": len(ids) - len(set(ids)),
            "deferred_to_0800": deferred,
            "deferred_at": morning.isoformat(),
            "still_leased": leased,
            "sent_plus_deferred": sent + deferred,
            "wall_seconds": round(wall, 1),
            "targets": {"drain_ratio": 1.05, "sent_in_quiet_hours": 0},
            **info,
        }
    )


if __name__ == "__main__":
    main()
