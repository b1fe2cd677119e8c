"""Figure 3: Redis memory per active enrollment and per message record, and the dispatch tick at scale.

Memory: enrollments are written as `enroll()` stores them (worker.store.codec.encode_enrollment,
the due index entry of each channel, the number's record `cd:{n:<blind index>}`), with pipelined HSET/ZADD so a million
take seconds, into a Redis with persistence off (so AOF buffers stay out of the figure); INFO `used_memory`
before and after, divided by the count. Records: a program's worth of messages is sent in-process
for 500 enrollments on both channels, jumping a fixed clock through the weeks, and MEMORY USAGE of
their record hashes is divided by the records they hold. Tick: one reap plus one claim of 1,000
due entries, with the rest of the index due tomorrow, among 10,000 and among 1,000,000 entries;
the claimed entries are put back between repeats; median of 9.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/<name>.py` from anywhere

import redis

from bench._common import both_channels, build_enrollment, emit, quiet_logs, redis_info, sms_only
from bench._patient_indexes import audit_entry_bytes, clinic_index_bytes
from tests.support.engine import make_deps, new_enrollment, run_until_idle
from worker.clock import FixedClock
from worker.delivery.types import DeliveryDeps
from worker.records import Enrollment, epoch_ms
from worker.redis_server import RedisServer
from worker.store.codec import encode_enrollment, encode_enrollment_unsealed
from worker.store.keys import due_key, enrollment_key, lease_key, lease_tokens_key, number_key, records_key

TZ = "America/New_York"
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
FILL_CHUNK = 5000
HASH_MAX_LISTPACK_VALUE = 256  # `--hash-max-ziplist-value 256`, as caredrip starts its Redis


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def fill(deps: DeliveryDeps, start: int, stop: int, *, channels: str, due_count: int = 0, sealed: bool = True) -> None:
    """Enrollments start..stop-1 as stored by enroll(); the first `due_count` due now, the rest tomorrow.
    `sealed=False`: the patients' details plain, as stored before sealing (the baseline)."""
    client = deps.engine.store.redis
    make = both_channels if channels == "both" else sms_only
    template = build_enrollment(deps, make(0, TZ), NOW)
    now_ms = epoch_ms(NOW)
    pipe = client.pipeline(transaction=False)
    for i in range(start, stop):
        e = build_enrollment(deps, make(i, TZ), NOW) if i < start + 2 else _like(deps, template, i, make)
        fields = encode_enrollment(e, deps.engine.keyring) if sealed else encode_enrollment_unsealed(e)
        pipe.hset(enrollment_key(e.id), mapping=dict[Any, Any](fields))
        score = now_ms - 1000 if i < due_count else now_ms + 86_400_000 + i
        for ch in e.channels:
            pipe.zadd(due_key(ch), {e.id: score})
        number = number_key(deps.engine.index.blind_index(e.phone or ""))
        pipe.hset(number, f"e:{e.id}", e.clinic_id)  # as enroll_number.lua notes it, with its expiry
        pipe.pexpire(number, deps.engine.retention_s * 1000)
        if (i + 1) % FILL_CHUNK == 0:
            pipe.execute()
    pipe.execute()


def _like(deps: DeliveryDeps, template: Enrollment, i: int, make: object) -> Enrollment:
    """`template` with patient i's id, reference and contact details (same due times: same anchor)."""
    from dataclasses import replace

    from worker.tokens import enrollment_id

    ref = f"p-{i}"
    email = f"patient{i}@example.com" if template.email else None
    return replace(
        template,
        id=enrollment_id(deps.engine.secret, template.clinic_id, ref, template.program),
        patient_ref=ref,
        phone=f"+1415{i:07d}",
        email=email,
    )


def parts_of_active(deps: DeliveryDeps, count: int, clinics: int = 100, spacing_ms: int = 2592) -> dict[str, float]:
    """Figure 3a part by part: bytes per active SMS-only enrollment (sealed) for its hash alone,
    its due entry alone, the number's record alone, its entry in its clinic's enrollment index
    alone (`count` spread over `clinics`) and the audit entry of its creation alone
    (bench/_patient_indexes.py), each filled on an empty Redis; `bytes_total` their sum and
    `bytes_total_without_audit` the sum of the first four."""
    client = deps.engine.store.redis
    template = build_enrollment(deps, sms_only(0, TZ), NOW)
    out: dict[str, float] = {}
    for part in ("enrollment_hash", "due_entry", "number_record"):
        client.flushall()
        before = used_memory(client)
        pipe = client.pipeline(transaction=False)
        for i in range(count):
            e = _like(deps, template, i, sms_only)
            if part == "enrollment_hash":
                pipe.hset(enrollment_key(e.id), mapping=dict[Any, Any](encode_enrollment(e, deps.engine.keyring)))
            elif part == "due_entry":
                pipe.zadd(due_key("sms"), {e.id: epoch_ms(NOW) + 86_400_000 + i})
            else:
                number = number_key(deps.engine.index.blind_index(e.phone or ""))
                pipe.hset(number, f"e:{e.id}", e.clinic_id)
                pipe.pexpire(number, deps.engine.retention_s * 1000)
            if (i + 1) % FILL_CHUNK == 0:
                pipe.execute()
        pipe.execute()
        out[f"bytes_{part}"] = round((used_memory(client) - before) / count, 1)
    store = deps.engine.store
    client.flushall()
    out["bytes_clinic_index"] = round(
        clinic_index_bytes(store, template, count, clinics=clinics, start=NOW, spacing_ms=spacing_ms), 1
    )
    client.flushall()
    out["bytes_audit_entry"] = round(
        audit_entry_bytes(store, count, clinics=clinics, start=NOW, spacing_ms=spacing_ms), 1
    )
    client.flushall()
    own = ("enrollment_hash", "due_entry", "number_record", "clinic_index")
    out["bytes_total_without_audit"] = round(sum(out[f"bytes_{p}"] for p in own), 1)
    out["bytes_total"] = round(out["bytes_total_without_audit"] + out["bytes_audit_entry"], 1)
    return out


def per_enrollment(deps: DeliveryDeps, count: int, channels: str, *, already: int = 0, sealed: bool = True) -> float:
    client = deps.engine.store.redis
    before = used_memory(client)
    fill(deps, already, count, channels=channels, due_count=1000, sealed=sealed)
    return (used_memory(client) - before) / (count - already)


def tick_seconds(deps: DeliveryDeps, repeats: int = 9) -> float:
    """Median of `repeats` reap + claim of 1,000 due entries (put back after each)."""
    store, client = deps.engine.store, deps.engine.store.redis
    store.load_scripts()
    timings = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        store.reap("sms", NOW)
        claimed = store.claim("sms", NOW, 1000, 300_000)
        timings.append(time.perf_counter() - t0)
        assert len(claimed) == 1000
        pipe = client.pipeline(transaction=False)
        pipe.zadd(due_key("sms"), {c.enrollment_id: epoch_ms(c.due) for c in claimed})
        pipe.zrem(lease_key("sms"), *[c.enrollment_id for c in claimed])
        pipe.hdel(lease_tokens_key("sms"), *[c.enrollment_id for c in claimed])
        pipe.execute()
    return statistics.median(timings)


def record_bytes(url: str, tmp: Path, enrollments: int) -> dict[str, float]:
    """Send every message of the program to `enrollments` patients (SMS + email) in-process."""
    deps = make_deps(url, tmp / "outbox.jsonl", clock=FixedClock(NOW))
    from worker.enrollment import enroll

    ids = [
        enroll(deps.engine, new_enrollment(f"r-{i}", phone=f"+1415{i:07d}", email=f"r{i}@example.com"))[0].id
        for i in range(enrollments)
    ]
    run_until_idle(deps, max_ticks=10_000)
    client = deps.engine.store.redis
    records = sum(int(client.hlen(records_key(e))) for e in ids)
    size = sum(int(client.memory_usage(records_key(e)) or 0) for e in ids)
    return {
        "records": records,
        "bytes_per_record": round(size / records, 1),
        "records_per_enrollment": round(records / enrollments, 1),
    }


def sealing_cost(deps: DeliveryDeps, count: int) -> dict[str, object]:
    """Figure 3a with the patients' details sealed (`x`) against plain (as before sealing), same run."""
    client = deps.engine.store.redis
    result: dict[str, object] = {"count": count}
    for name, sealed in (("plain", False), ("sealed", True)):
        client.flushall()
        t0 = time.perf_counter()
        result[f"bytes_per_enrollment_sms_{name}"] = round(per_enrollment(deps, count, "sms", sealed=sealed), 1)
        result[f"fill_seconds_{name}"] = round(time.perf_counter() - t0, 1)
    plain, sealed_bytes = result["bytes_per_enrollment_sms_plain"], result["bytes_per_enrollment_sms_sealed"]
    assert isinstance(plain, float) and isinstance(sealed_bytes, float)
    result["sealing_cost"] = round(sealed_bytes / plain - 1, 4)
    return result


def main() -> None:
    quiet_logs()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument(
        "--sealing-only", action="store_true", help="only figure 3a, SMS only, sealed vs plain at --large"
    )
    parser.add_argument(
        "--parts", action="store_true", help="only figure 3a part by part (hash, due entry, number) at --large"
    )
    parser.add_argument("--clinics", type=int, default=100, help="--parts: clinics the enrollments are spread over")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="caredrip-bench-") as tmp:
        server = RedisServer.on_free_port(Path(tmp) / "redis", appendonly=False)
        try:
            deps = make_deps(server.url, Path(tmp) / "outbox.jsonl", clock=FixedClock(NOW))
            client = deps.engine.store.redis
            # as the embedded Redis runs: an enrollment's sealed details (~80 B) stay in its listpack
            client.config_set("hash-max-ziplist-value", HASH_MAX_LISTPACK_VALUE)
            result: dict[str, object] = {"figure": "scale", **redis_info(server.url)}
            if args.parts:
                emit(
                    {
                        **result,
                        "figure": "scale_parts",
                        "count": args.large,
                        **parts_of_active(deps, args.large, args.clinics),
                    }
                )
                return
            if args.sealing_only:
                emit({**result, "figure": "scale_sealing", **sealing_cost(deps, args.large)})
                return
            fill(deps, 0, 10_000, channels="sms", due_count=1000)
            tick_10k = tick_seconds(deps)
            client.flushall()
            result["bytes_per_enrollment_sms_100k"] = round(per_enrollment(deps, 100_000, "sms"), 1)
            client.flushall()
            result["bytes_per_enrollment_both_100k"] = round(per_enrollment(deps, 100_000, "both"), 1)
            client.flushall()
            t0 = time.perf_counter()
            result["bytes_per_enrollment_sms_1m"] = round(per_enrollment(deps, args.large, "sms"), 1)
            result["fill_seconds_1m"] = round(time.perf_counter() - t0, 1)
            tick_1m = tick_seconds(deps)
            client.flushall()
            result.update(record_bytes(server.url, Path(tmp), 500))
            result.update(
                tick_ms_10k=round(tick_10k * 1000, 3),
                tick_ms_1m=round(tick_1m * 1000, 3),
                tick_ratio=round(tick_1m / tick_10k, 3),
                targets={"bytes_per_enrollment": 400, "bytes_per_record": 200, "tick_ratio": 1.5},
            )
            emit(result)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
