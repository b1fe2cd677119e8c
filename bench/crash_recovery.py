"""Issue 19, target 2: SIGKILL of every caredrip process mid-drip, restart, and how late it got.

N SMS-only welcomes are due spread evenly over `--spread` seconds (a drip, below the per-sender
limit). caredrip runs as `caredrip run` runs it: one Celery worker (threads pool, every queue)
and beat (the dispatch tick every second), real subprocesses in their own sessions, on a private
Redis (AOF on; Redis is the store and is not killed). Half-way through the drip, at the first
instant a send batch holds claims, both process groups get SIGKILL at once; `--down` seconds
later they are started again. The run ends when every message has a final state (sent, or
`unknown`) or after a bound.

Reported: duplicates (outbox ids seen twice: must be 0), sent, `unknown` (taken "sending" by the
killed worker: never re-sent automatically), neither (must be 0), lateness (sent_at - due_at)
p50 / p99 / max over the sent, and the same for the messages due before the kill that went out
after it (the ones the crash held back). The lease is CAREDRIP_LEASE_SECONDS (`--lease`).
A burst instead of a drip: `--spread 0.001 --rate 200 --kill-after 5` (2,000 due at once, drained
at the limit in 10 s, killed half-way while the rest is claimed).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
    start_process,
    stop_process,
    worker_env,
)
from worker.records import MessageState
from worker.store.keys import lease_key
from worker.supervisor import celery_beat, celery_worker

WORKER_QUEUES, WORKER_THREADS = "intake,dispatch,send,webhooks", 8  # as `caredrip run` (worker.stack)


def start_stack(env: dict[str, str], var: Path) -> list[Any]:
    return [
        start_process(celery_worker(WORKER_QUEUES, WORKER_THREADS), env),
        start_process(celery_beat(var / "celerybeat-schedule"), env),
    ]


def kill_stack(processes: list[Any]) -> None:
    for p in processes:
        os.killpg(p.pid, signal.SIGKILL)
    for p in processes:
        p.wait()


def percentile(values: list[float], q: float) -> float | None:
    return round(sorted(values)[int(q * (len(values) - 1))], 3) if values else None


def main() -> None:
    quiet_logs()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--spread", type=float, default=40.0, help="seconds over which the messages fall due")
    parser.add_argument("--down", type=float, default=1.0, help="seconds between the kill and the restart")
    parser.add_argument("--kill-after", type=float, default=None, help="seconds after the first due (spread/2)")
    parser.add_argument("--lease", type=int, default=20)
    parser.add_argument("--rate", type=float, default=100.0, help="SMS_RATE_PER_SECOND (the drip is 50/s)")
    parser.add_argument("--bound", type=float, default=240.0, help="give up this long after the restart")
    args = parser.parse_args()
    n = args.messages
    tz = awake_timezone((9, 19))
    with private_redis() as server:
        url, var = server.url, server.data_dir.parent / "var"
        var.mkdir(parents=True, exist_ok=True)
        outbox = var / "outbox.jsonl"
        deps = live_deps(url, outbox, rate=args.rate, lease_seconds=args.lease)
        env = worker_env(
            url,
            var,
            SMS_RATE_PER_SECOND=str(int(args.rate)),
            CAREDRIP_LEASE_SECONDS=str(args.lease),
            PYTHONPATH=str(Path(__file__).resolve().parents[1]),
        )
        client = redis.Redis.from_url(url, decode_responses=True)
        stack = start_stack(env, var)
        time.sleep(3.0)  # the worker and beat come up (as after a deploy)
        first_due = datetime.now(UTC) + timedelta(seconds=2)
        step = args.spread / n
        enrollments = [build_enrollment(deps, sms_only(i, tz), first_due) for i in range(n)]
        due_of = {e.id: first_due + timedelta(seconds=i * step) for i, e in enumerate(enrollments)}
        bulk_store(deps, enrollments, due_ms=lambda e, _ch: int(due_of[e.id].timestamp() * 1000))
        kill_at = first_due + timedelta(seconds=args.spread / 2 if args.kill_after is None else args.kill_after)
        time.sleep(max(0.0, (kill_at - datetime.now(UTC)).total_seconds()))
        wait_claims = time.monotonic() + 10  # strike while batches hold claims (the lease matters then)
        while not client.zcard(lease_key("sms")) and time.monotonic() < wait_claims:
            time.sleep(0.002)
        kill_stack(stack)
        killed = datetime.now(UTC)
        in_flight_at_kill = int(client.zcard(lease_key("sms")))
        time.sleep(args.down)
        stack = start_stack(env, var)
        restarted = datetime.now(UTC)
        mids = [f"{eid}.welcome.sms.1" for eid in due_of]
        give_up = time.monotonic() + args.bound + args.spread
        store = deps.engine.store
        try:
            while True:
                states = [r.state if r else None for r in (store.record(m) for m in mids)]
                final = sum(1 for s in states if s in (MessageState.SENT, MessageState.UNKNOWN))
                if final == n or time.monotonic() > give_up:
                    break
                time.sleep(1.0)
        finally:
            for p in stack:
                stop_process(p)
        info = redis_info(url)
        lines = [json.loads(line) for line in outbox.read_text().splitlines()] if outbox.exists() else []
    ids = [line["id"] for line in lines]
    sent_at = {line["id"]: datetime.fromisoformat(line["sent_at"]) for line in lines}
    late = [(sent_at[m] - due_of[m.split(".")[0]]).total_seconds() for m in sent_at]
    held_back = [
        (sent_at[m] - due_of[m.split(".")[0]]).total_seconds()
        for m in sent_at
        if due_of[m.split(".")[0]] < killed and sent_at[m] > killed
    ]
    unknown = sum(1 for s in states if s is MessageState.UNKNOWN)
    emit(
        {
            "figure": "crash_recovery",
            "messages": n,
            "spread_s": args.spread,
            "lease_s": args.lease,
            "down_s": args.down,
            "rate_limit": args.rate,
            "in_flight_at_kill": in_flight_at_kill,
            "killed_after_s": round((killed - first_due).total_seconds(), 2),
            "restart_took_s": round((restarted - killed).total_seconds(), 2),
            "sent": len(set(ids)),
            "unknown": unknown,
            "neither": n - len(set(ids)) - unknown,
            "duplicates": len(ids) - len(set(ids)),
            "lateness_p50_s": round(statistics.median(late), 3) if late else None,
            "lateness_p99_s": percentile(late, 0.99),
            "lateness_max_s": round(max(late), 3) if late else None,
            "held_back": len(held_back),
            "held_back_p50_s": round(statistics.median(held_back), 3) if held_back else None,
            "held_back_max_s": round(max(held_back), 3) if held_back else None,
            "load_1min": os.getloadavg()[0],
            "targets": {"duplicates": 0, "neither": 0, "lateness_p99_s": 30},
            **info,
        }
    )


if __name__ == "__main__":
    main()
