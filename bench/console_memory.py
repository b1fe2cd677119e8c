"""The console's memory in Redis: the per-clinic enrollment index (`cd:enrollments:<clinic>`,
bytes per enrollment, through the store's own bulk create) and 24 hours of per-minute counts
with lateness buckets (`cd:stats:m:<minute>`, 1,440 hashes).

    python bench/console_memory.py [--enrollments 100000] [--clinics 1,100]
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from _common import build_enrollment, emit, live_deps, private_redis, redis_info, sms_only

from worker.lateness import BOUNDS, INF
from worker.records import MessageState
from worker.store.counters import count_outcome
from worker.store.keys import clinic_enrollments_key, stats_minute_key
from worker.store.ops import Command

START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def index_bytes(url: str, outbox: Path, n: int, clinics: int) -> float:
    """MEMORY USAGE of every clinic's index after `n` real creates, per enrollment."""
    deps = live_deps(url, outbox)
    store = deps.engine.store
    store.redis.flushall()
    for start in range(0, n, 2000):
        news = [
            sms_only(i, "America/Chicago", clinic_id=f"c_{i % clinics}") for i in range(start, min(n, start + 2000))
        ]
        built = [build_enrollment(deps, new, START + timedelta(seconds=start + k)) for k, new in enumerate(news)]
        store.create_enrollments([(e, None) for e in built], ttl_s=deps.engine.retention_s)
    used = sum(int(store.redis.memory_usage(clinic_enrollments_key(f"c_{c}"), samples=0) or 0) for c in range(clinics))
    store.redis.close()
    return used / n


def minutes_bytes(url: str, buckets: int) -> tuple[int, int]:
    """MEMORY USAGE of 1,440 minute hashes with 5 outcome fields and `buckets` lateness buckets
    each, and without any lateness (what the counters wrote before)."""
    import redis

    client = redis.Redis.from_url(url, decode_responses=True)
    sizes = []
    for with_late in (False, True):
        client.flushall()
        for m in range(1440):
            now = START + timedelta(minutes=m)
            pipe = client.pipeline(transaction=False)
            for state, ch in (("sent", "sms"), ("sent", "email"), ("failed", "sms"), ("unknown", "sms"),
                              ("retrying", "sms")):  # fmt: skip
                for late in (*BOUNDS, BOUNDS[-1] + 1)[:buckets] if with_late and state == "sent" else (None,):
                    for op in count_outcome(MessageState(state), ch, "twitching", now, late).ops:
                        assert isinstance(op, Command)
                        getattr(pipe, op.name)(*op.args, **op.kwargs)
            pipe.execute()
        first = int(START.timestamp()) // 60
        sizes.append(sum(int(client.memory_usage(stats_minute_key(first + m), samples=0) or 0) for m in range(1440)))
    client.close()
    assert INF not in BOUNDS
    return sizes[0], sizes[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--enrollments", type=int, default=100_000)
    parser.add_argument("--clinics", default="1,100")
    args = parser.parse_args()
    with private_redis() as server, TemporaryDirectory() as tmp:
        result: dict[str, object] = {"benchmark": "console_memory", **redis_info(server.url)}
        for clinics in (int(c) for c in args.clinics.split(",")):
            result[f"index_bytes_per_enrollment_{clinics}_clinics"] = round(
                index_bytes(server.url, Path(tmp) / "outbox.jsonl", args.enrollments, clinics), 1
            )
        for buckets in (3, len(BOUNDS) + 1):
            plain, late = minutes_bytes(server.url, buckets)
            extra = round((late - plain) / 1440, 1)
            result[f"stats_24h_bytes_{buckets}_buckets"] = {"without": plain, "with": late, "extra_per_minute": extra}
        result["enrollments"] = args.enrollments
        emit(result)


if __name__ == "__main__":
    main()
