"""Figure 1: send throughput on the outbox channel against raw Celery no-op tasks, same run.

20,000 SMS-only enrollments have their welcome due now (in a zone where it is daytime). One
`celery worker -P prefork -c 2` (2 worker processes, the settings of worker/celery_app.py) sends
them while this process dispatches, as the beat task would: `dispatch_once` every 50 ms. The
clock runs from the first dispatch to the 20,000th outbox line. Then, on the same Redis with the
same worker settings, 20,000 no-op tasks (bench/noop_app.py) are queued first and drained by an
identical worker; the clock runs from the moment it starts consuming to the last ack.
CPU seconds are read from /proc for the worker's process group, Redis and this process.

The patients' details are sealed as enroll() stores them (AES-256-GCM, opened once per message
load). `--compare-plain first|last` also runs the same send phase on enrollments stored plain (as
before sealing; the codec still reads them) on a flushed Redis, before or after the sealed one,
so both figures come from one run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/<name>.py` from anywhere

import redis

from bench._common import (
    LineCounter,
    awake_timezone,
    build_enrollment,
    bulk_store,
    emit,
    group_cpu_seconds,
    live_deps,
    pid_cpu_seconds,
    private_redis,
    quiet_logs,
    redis_info,
    self_cpu_seconds,
    sms_only,
    use_broker,
    worker_env,
    workers,
)
from worker import tasks
from worker.delivery.dispatch import dispatch_once
from worker.store.keys import due_key

TICK_SECONDS = 0.05
ROOT = Path(__file__).resolve().parents[1]
NO_HIREDIS = ROOT / "bench" / "no_hiredis"


def due_now(client: redis.Redis) -> int:
    """Entries due by now (sent ones come back to the index for their next step, in days)."""
    return int(client.zcount(due_key("sms"), "-inf", int(time.time() * 1000)))


def caredrip_phase(
    url: str, var: Path, count: int, batch: int, *, sealed: bool = True, hiredis: bool = True
) -> dict[str, float]:
    outbox = var / "outbox.jsonl"
    deps = live_deps(url, outbox)
    tz = awake_timezone()
    now = datetime.now(UTC)
    bulk_store(deps, [build_enrollment(deps, sms_only(i, tz), now) for i in range(count)], sealed=sealed)
    use_broker(url)
    env = worker_env(url, var, SMS_RATE_PER_SECOND="1000000", CAREDRIP_SEND_BATCH=str(batch))
    if not hiredis:  # the workers' redis-py parses and packs in Python (bench/no_hiredis)
        env["PYTHONPATH"] = os.pathsep.join([str(NO_HIREDIS), str(ROOT), env.get("PYTHONPATH", "")])
    client = redis.Redis.from_url(url, decode_responses=True)
    redis_pid = int(client.info("server")["process_id"])
    with workers("worker.celery_app", url, env, pool="prefork", concurrency=2, queues="send") as started:
        pgids = [w.pid for w in started]
        lines = LineCounter(outbox)
        cpu0 = (group_cpu_seconds(pgids), pid_cpu_seconds(redis_pid), self_cpu_seconds())
        t0 = time.perf_counter()
        while due_now(client):
            dispatch_once(deps, tasks.enqueue_send)
            time.sleep(TICK_SECONDS)
        claimed_at = time.perf_counter() - t0
        deadline = time.monotonic() + 300
        while lines() < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {lines()} of {count} written")
            if due_now(client):
                dispatch_once(deps, tasks.enqueue_send)
            time.sleep(0.01)
        elapsed = time.perf_counter() - t0
        cpu1 = (group_cpu_seconds(pgids), pid_cpu_seconds(redis_pid), self_cpu_seconds())
    ids = [json.loads(line)["id"] for line in outbox.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == count, "a duplicate or a loss"
    return {
        "messages": count,
        "seconds": round(elapsed, 3),
        "rate": round(count / elapsed, 1),
        "claim_seconds": round(claimed_at, 3),
        "worker_cpu_s_per_1000": round((cpu1[0] - cpu0[0]) / count * 1000, 4),
        "redis_cpu_s_per_1000": round((cpu1[1] - cpu0[1]) / count * 1000, 4),
        "dispatcher_cpu_s_per_1000": round((cpu1[2] - cpu0[2]) / count * 1000, 4),
    }


def plain_phase(url: str, count: int, batch: int) -> dict[str, float]:
    """The send phase on enrollments stored plain (as before sealing), on a flushed Redis."""
    redis.Redis.from_url(url).flushall()
    var = Path(tempfile.mkdtemp(prefix="caredrip-bench-plain-"))
    try:
        return caredrip_phase(url, var, count, batch, sealed=False)
    finally:
        redis.Redis.from_url(url).flushall()
        shutil.rmtree(var, ignore_errors=True)


def flushed_phase(url: str, run: Callable[[Path], dict[str, float]]) -> dict[str, float]:
    """A send phase on a flushed Redis with a var dir of its own."""
    redis.Redis.from_url(url).flushall()
    var = Path(tempfile.mkdtemp(prefix="caredrip-bench-phase-"))
    try:
        return run(var)
    finally:
        redis.Redis.from_url(url).flushall()
        shutil.rmtree(var, ignore_errors=True)


def noop_phase(url: str, var: Path, count: int, module: str = "bench.noop_app") -> dict[str, float]:
    """`count` no-op tasks drained by one prefork worker of `module`: bench.noop_app (caredrip's
    Celery settings) or bench.noop_defaults_app (Celery's defaults)."""
    loaded = importlib.import_module(module)
    app, noop = loaded.app, loaded.noop
    app.conf.broker_url = url
    client = redis.Redis.from_url(url, decode_responses=True)
    with app.producer_or_acquire() as producer:
        for _ in range(count):
            noop.apply_async((), queue="noop", producer=producer)
    assert client.llen("noop") == count
    redis_pid = int(client.info("server")["process_id"])
    env = worker_env(url, var)
    with workers(module, url, env, pool="prefork", concurrency=2, queues="idle") as started:
        pgids = [w.pid for w in started]
        cpu0 = (group_cpu_seconds(pgids), pid_cpu_seconds(redis_pid))
        t0 = time.perf_counter()
        app.control.add_consumer("noop", destination=[w.nodename for w in started], reply=True, timeout=5)
        deadline = time.monotonic() + 300
        while client.llen("noop") or client.hlen("unacked"):
            if time.monotonic() > deadline:
                raise RuntimeError("no-op tasks did not drain")
            time.sleep(0.005)
        elapsed = time.perf_counter() - t0
        cpu1 = (group_cpu_seconds(pgids), pid_cpu_seconds(redis_pid))
    return {
        "tasks": count,
        "seconds": round(elapsed, 3),
        "rate": round(count / elapsed, 1),
        "worker_cpu_s_per_1000": round((cpu1[0] - cpu0[0]) / count * 1000, 4),
        "redis_cpu_s_per_1000": round((cpu1[1] - cpu0[1]) / count * 1000, 4),
    }


def main() -> None:
    quiet_logs()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100, help="CAREDRIP_SEND_BATCH")
    parser.add_argument(
        "--compare-hiredis", action="store_true", help="also send with hiredis hidden from the workers (after)"
    )
    parser.add_argument(
        "--compare-plain", choices=("first", "last"), help="also send from plain enrollments, before or after"
    )
    args = parser.parse_args()
    with private_redis() as server:
        var = server.data_dir.parent / "var"
        plain: dict[str, float] | None = None
        if args.compare_plain == "first":
            plain = plain_phase(server.url, args.messages, args.batch)
        send = caredrip_phase(server.url, var, args.messages, args.batch)
        if args.compare_plain == "last":
            plain = plain_phase(server.url, args.messages, args.batch)
        extra: dict[str, object] = {}
        if plain is not None:
            cost = round(1 - send["rate"] / plain["rate"], 4)
            extra = {"send_plain": plain, "messages_per_second_plain": plain["rate"], "sealing_cost": cost}
        if args.compare_hiredis:
            n, b = args.messages, args.batch
            without = flushed_phase(server.url, lambda v: caredrip_phase(server.url, v, n, b, hiredis=False))
            extra["send_without_hiredis"] = without
            extra["cpu_seconds_per_1000_messages_without_hiredis"] = without["worker_cpu_s_per_1000"]
        noop = noop_phase(server.url, var, args.messages)
        noop_defaults = noop_phase(server.url, var, args.messages, "bench.noop_defaults_app")
        emit(
            {
                "figure": "send_throughput",
                "workers": "1 x celery worker -P prefork -c 2 (2 worker processes)",
                "send_batch": args.batch,
                "send": send,
                "noop": noop,
                "messages_per_second": send["rate"],
                "noop_tasks_per_second": noop["rate"],
                "ratio": round(send["rate"] / noop["rate"], 2),
                "target_ratio": 3.0,
                "noop_defaults": noop_defaults,
                "noop_defaults_tasks_per_second": noop_defaults["rate"],
                "ratio_to_defaults": round(send["rate"] / noop_defaults["rate"], 2),
                "target_ratio_to_defaults": 8.0,
                "target_cpu_seconds_per_1000_messages": 0.15,
                "cpu_seconds_per_1000_messages": send["worker_cpu_s_per_1000"],
                **extra,
                **redis_info(server.url),
            }
        )


if __name__ == "__main__":
    main()
