"""Figure 2: SMS throughput through the real `twilio` library when every provider call takes 150 ms.

The Twilio stand-in (tests/support/twilio_standin.py) runs as its own process and answers each
request after 150 ms. Two `celery worker -P threads -c 32` processes (the send worker of
docker-compose.yml) send with SMS_CHANNEL=twilio and a rate limit far above what they reach;
this process dispatches every 50 ms, as the beat task would. The clock runs from the first
dispatch until every message is recorded as sent in Redis.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/<name>.py` from anywhere

import redis

from bench._common import (
    awake_timezone,
    build_enrollment,
    bulk_store,
    due_now,
    emit,
    group_cpu_seconds,
    live_deps,
    private_redis,
    quiet_logs,
    redis_info,
    sent_count,
    sms_only,
    start_process,
    stop_process,
    use_broker,
    wait_port,
    worker_env,
    workers,
)
from worker import tasks
from worker.delivery.dispatch import dispatch_once
from worker.redis_server import free_port
from worker.store.keys import STATS_TOTAL

TOKEN = "bench-auth-token-0123456789"


def main() -> None:
    quiet_logs()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=6000)
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--threads", type=int, default=32, help="-c of each `-P threads` worker (compose: 32)")
    parser.add_argument("--validate", action="store_true", help="let the stand-in check every request too")
    args = parser.parse_args()
    port = free_port()
    standin = start_process(
        [
            sys.executable,
            "-m",
            "tests.support.twilio_standin",
            "--port",
            str(port),
            "--latency",
            str(args.latency),
            "--auth-token",
            TOKEN,
            *([] if args.validate else ["--no-validate"]),
        ]
    )
    try:
        wait_port(port)
        with private_redis() as server:
            url, var = server.url, server.data_dir.parent / "var"
            deps = live_deps(url, var / "outbox.jsonl")
            tz, now = awake_timezone(), datetime.now(UTC)
            bulk_store(deps, [build_enrollment(deps, sms_only(i, tz), now) for i in range(args.messages)])
            use_broker(url)
            env = worker_env(
                url,
                var,
                SMS_CHANNEL="twilio",
                TWILIO_ACCOUNT_SID="AC" + "1" * 32,
                TWILIO_AUTH_TOKEN=TOKEN,
                TWILIO_FROM_NUMBER="+15005550006",
                TWILIO_API_BASE_URL=f"http://127.0.0.1:{port}",
                SMS_RATE_PER_SECOND="100000",
            )
            client = redis.Redis.from_url(url, decode_responses=True)
            with workers("worker.celery_app", url, env, count=2, pool="threads", concurrency=args.threads) as started:
                pgids = [w.pid for w in started]
                cpu0 = group_cpu_seconds(pgids)
                t0 = time.perf_counter()
                deadline = time.monotonic() + 60
                while sent_count(client) < args.messages:
                    if time.monotonic() > deadline:
                        errors = [
                            ln
                            for w in started
                            for ln in w.log_path.read_text().splitlines()
                            if "Traceback" in ln or "raised" in ln
                        ][:10]
                        raise RuntimeError(f"not all sent: {client.hgetall('cd:stats:total')} {errors}")
                    if due_now(client):
                        dispatch_once(deps, tasks.enqueue_send)
                    time.sleep(0.05)
                elapsed = time.perf_counter() - t0
                cpu = group_cpu_seconds(pgids) - cpu0
            states = {k: int(v) for k, v in client.hgetall(STATS_TOTAL).items()}
            emit(
                {
                    "figure": "twilio_latency",
                    "messages": args.messages,
                    "latency_s": args.latency,
                    "workers": f"2 x celery worker -P threads -c {args.threads}",
                    "seconds": round(elapsed, 3),
                    "messages_per_second": round(args.messages / elapsed, 1),
                    "target": 300,
                    "worker_cpu_s_per_1000": round(cpu / args.messages * 1000, 3),
                    "outcomes": states,
                    "standin_validates": args.validate,
                    **redis_info(url),
                }
            )
    finally:
        stop_process(standin)


if __name__ == "__main__":
    main()
