"""Issue 19, target 4: punctuality at a time scale of 1, below the rate limit.

N SMS-only welcomes fall due evenly over `--spread` seconds (2,000 over a minute: 33/s, against a
limit of `--rate` 200/s). caredrip runs as `caredrip run` runs it (bench/crash_recovery.py: one
Celery worker on every queue, threads pool, and beat with its one-second dispatch tick) on a
private Redis, on the real clock. Reported: lateness (sent_at - due_at, from the outbox) p50 /
p99 / max, duplicates and messages not sent by the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/<name>.py` from anywhere

from bench._common import (
    LineCounter,
    awake_timezone,
    build_enrollment,
    bulk_store,
    emit,
    live_deps,
    private_redis,
    quiet_logs,
    redis_info,
    sms_only,
    stop_process,
    worker_env,
)
from bench.crash_recovery import percentile, start_stack


def main() -> None:
    quiet_logs()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--spread", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=200.0, help="SMS_RATE_PER_SECOND")
    args = parser.parse_args()
    n, tz = args.messages, awake_timezone((9, 19))
    with private_redis() as server:
        url, var = server.url, server.data_dir.parent / "var"
        var.mkdir(parents=True, exist_ok=True)
        outbox = var / "outbox.jsonl"
        deps = live_deps(url, outbox, rate=args.rate)
        root = str(Path(__file__).resolve().parents[1])
        env = worker_env(url, var, SMS_RATE_PER_SECOND=str(int(args.rate)), PYTHONPATH=root)
        stack = start_stack(env, var)
        try:
            time.sleep(3.0)  # the worker and beat come up
            first_due = datetime.now(UTC) + timedelta(seconds=3)
            step = args.spread / n
            enrollments = [build_enrollment(deps, sms_only(i, tz), first_due) for i in range(n)]
            due_of = {e.id: first_due + timedelta(seconds=i * step) for i, e in enumerate(enrollments)}
            bulk_store(deps, enrollments, due_ms=lambda e, _ch: int(due_of[e.id].timestamp() * 1000))
            lines, give_up = LineCounter(outbox), time.monotonic() + args.spread + 60
            while lines() < n and time.monotonic() < give_up:
                time.sleep(0.5)
        finally:
            for p in stack:
                stop_process(p)
        info = redis_info(url)
        rows = [json.loads(line) for line in outbox.read_text().splitlines()] if outbox.exists() else []
    ids = [row["id"] for row in rows]
    late = [(datetime.fromisoformat(r["sent_at"]) - due_of[r["enrollment_id"]]).total_seconds() for r in rows]
    emit(
        {
            "figure": "punctuality",
            "messages": n,
            "spread_s": args.spread,
            "rate_limit": args.rate,
            "sent": len(set(ids)),
            "duplicates": len(ids) - len(set(ids)),
            "lateness_p50_s": round(statistics.median(late), 3) if late else None,
            "lateness_p99_s": percentile(late, 0.99),
            "lateness_max_s": round(max(late), 3) if late else None,
            "early": sum(1 for x in late if x < 0),
            "load_1min": round(os.getloadavg()[0], 2),
            "targets": {"lateness_p99_s": 1.5},
            **info,
        }
    )


if __name__ == "__main__":
    main()
