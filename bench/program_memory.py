"""Figure 3d: Redis bytes per patient over a whole SMS + email program, once it has completed.

Every key a completed program leaves behind is counted: the enrollment hash, its message records
(`cd:{e:<id>}:m`; since issue 19 packed into a few chunk fields of the enrollment hash when the
program ends, and the `:m` hash gone), the number's record `cd:{n:<blind index>}` (its `e:` note
and `last`) and its recent sends, parked at the end in `cd:{n:<blind index>}:h` (what the caps
count: that key expires 8 days after the end, so it is counted in `bytes_per_program_packed`, right
after the end, and not in `..._after_8_days`, the other 392 days of the retention), and the indexes
a patient costs: its entry in the clinic's enrollment index `cd:enrollments:<clinic>` and the audit
entry of its creation (`cd:audit` and the clinic's audit stream), each written through the store's
own ops (bench/_patient_indexes.py) for `--count` enrollments over `--clinics` clinics, created
`--spacing-ms` apart, and reported on lines of their own. Due entries are gone by then.
How: `--sample` patients go through the whole program in-process (the real engine, jumping a
fixed clock through the weeks), with provider ids shaped as in production (a Twilio SID, `SM` + 32
random hex digits, for SMS; `<message id@caredrip>` as the SMTP channel writes it for email). The
keys of one of them are then DUMPed and RESTOREd under `--count` fresh random names, with their
expiry, into a Redis with persistence off; INFO `used_memory` before and after, divided by the
count. The same is done with its records as stored before compaction (one plain field per record),
for the figure without compaction, in the same run.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/<name>.py` from anywhere

import redis

from bench._common import build_enrollment, emit, quiet_logs, redis_info, sms_only
from bench._patient_indexes import audit_entry_bytes, clinic_index_bytes
from bench.scale import HASH_MAX_LISTPACK_VALUE, NOW, TZ, used_memory
from tests.support.engine import make_deps, new_enrollment, run_until_idle
from worker.channels.base import OutgoingMessage, SendResult
from worker.channels.outbox import OutboxChannel
from worker.channels.smtp_email import message_id_for
from worker.clock import FixedClock
from worker.delivery.types import DeliveryDeps
from worker.enrollment import enroll
from worker.redis_server import RedisServer
from worker.store import packed
from worker.store.keys import enrollment_key, number_key, number_sends_key, records_key

CHUNK = 2000


class ProductionIds(OutboxChannel):
    """The outbox channel, answering with provider ids shaped as Twilio's and the SMTP channel's."""

    def send_many(self, messages: list[OutgoingMessage], *, now: datetime) -> list[SendResult | Exception]:
        results = super().send_many(messages, now=now)
        return [
            SendResult(provider_id=self._provider_id(m), sent_at=r.sent_at) if isinstance(r, SendResult) else r
            for m, r in zip(messages, results, strict=True)
        ]

    def _provider_id(self, message: OutgoingMessage) -> str:
        return f"SM{secrets.token_hex(16)}" if self.name == "sms" else message_id_for(message.id)


def run_programs(url: str, tmp: Path, sample: int) -> tuple[DeliveryDeps, list[str]]:
    """`sample` SMS + email patients through the whole program; their engine, their enrollment ids."""
    outbox = tmp / "outbox.jsonl"
    channels = {"sms": ProductionIds("sms", outbox), "email": ProductionIds("email", outbox)}
    deps = make_deps(url, outbox, clock=FixedClock(NOW), channels=dict(channels))
    ids = [
        enroll(deps.engine, new_enrollment(f"r-{i}", phone=f"+1415{i:07d}", email=f"r{i}@example.com"))[0].id
        for i in range(sample)
    ]
    run_until_idle(deps, max_ticks=10_000)
    return deps, ids


def number_of(client: redis.Redis, eid: str) -> str:
    """The key of the number's record that notes enrollment `eid`."""
    return next(str(k) for k in client.scan_iter("cd:{n:*", count=10_000) if client.hexists(k, f"e:{eid}"))


def _hash(client: redis.Redis, key: str) -> dict[str, str]:
    return {str(f): str(v) for f, v in client.hgetall(key).items()}


def _dump(raw: redis.Redis, key: str) -> bytes:
    dumped = raw.dump(key)
    assert isinstance(dumped, bytes)
    return dumped


def unpacked_dumps(client: redis.Redis, raw: redis.Redis, eid: str) -> tuple[bytes, bytes]:
    """DUMPs of the enrollment hash and its records hash as they were before compaction: the
    enrollment without chunk fields, one plain field per record."""
    stored = _hash(client, enrollment_key(eid))
    read = packed.Stored.read(_hash(client, records_key(eid)), stored)
    dumps = []
    for fields in ({f: v for f, v in stored.items() if not packed.is_chunk(f)}, read.records(eid)):
        client.delete("bench:scratch")
        client.hset("bench:scratch", mapping=dict[Any, Any](fields))
        dumps.append(_dump(raw, "bench:scratch"))
    client.delete("bench:scratch")
    return dumps[0], dumps[1]


def restored_bytes(client: redis.Redis, raw: redis.Redis, dumps: list[tuple[str, bytes, int]], count: int) -> float:
    """RESTORE `dumps` (kind, payload, ttl ms) under `count` fresh names each (`raw`: a client
    that does not decode): bytes per copy."""
    before = used_memory(client)
    pipe = raw.pipeline(transaction=False)
    for i in range(count):
        eid, bi = secrets.token_hex(10), secrets.token_urlsafe(16)
        for kind, payload, ttl in dumps:
            name = {
                "e": enrollment_key(eid),
                "m": records_key(eid),
                "n": number_key(bi),
                "h": number_sends_key(bi),
            }[kind]
            pipe.restore(name, max(ttl, 0), payload)
        if (i + 1) % CHUNK == 0:
            pipe.execute()
    pipe.execute()
    return (used_memory(client) - before) / count


def measure(url: str, tmp: Path, sample: int, count: int, clinics: int, spacing_ms: int) -> dict[str, object]:
    deps, ids = run_programs(url, tmp, sample)
    client = deps.engine.store.redis
    raw = redis.Redis(connection_pool=redis.ConnectionPool.from_url(url, socket_timeout=600))
    eid = ids[sample // 2]
    enrollment, number = enrollment_key(eid), number_of(client, eid)
    sends = number_sends_key(number.removeprefix("cd:{n:").removesuffix("}"))
    assert not client.exists(records_key(eid)), "the completed program's records were not compacted"
    ttl = {key: int(client.pttl(key)) for key in (enrollment, number, sends)}
    plain_enrollment, plain_records = unpacked_dumps(client, raw, eid)
    held = [("e", _dump(raw, enrollment), ttl[enrollment]), ("n", _dump(raw, number), ttl[number])]
    recent = [("h", _dump(raw, sends), ttl[sends])] if client.exists(sends) else []
    layouts = {
        "packed": [*held, *recent],  # right after the end: with the sends of the last 8 days
        "packed_after_8_days": held,  # the rest of the retention: the sends' key has expired
        "unpacked": [
            ("e", plain_enrollment, ttl[enrollment]),
            ("m", plain_records, ttl[enrollment]),
            *held[1:],
            *recent,
        ],
    }
    result: dict[str, object] = {
        "count": count,
        "sample": sample,
        "memory_usage_enrollment": int(client.memory_usage(enrollment) or 0),
        "memory_usage_number": int(client.memory_usage(number) or 0),
        "memory_usage_sends": int(client.memory_usage(sends) or 0),
        "sends_ttl_days": round(ttl[sends] / 86_400_000, 1),
    }
    for name, parts in layouts.items():
        flush(url)
        t0 = time.perf_counter()
        result[f"bytes_per_program_{name}"] = round(restored_bytes(client, raw, parts, count), 1)
        result[f"fill_seconds_{name}"] = round(time.perf_counter() - t0, 1)
    result.update(index_bytes(deps, url, count, clinics, spacing_ms))
    indexes = float(str(result["bytes_clinic_index"])) + float(str(result["bytes_audit_entry"]))
    for name in ("packed", "packed_after_8_days"):
        result[f"bytes_per_program_total{name.removeprefix('packed')}"] = round(
            float(str(result[f"bytes_per_program_{name}"])) + indexes, 1
        )
    return result


def flush(url: str) -> None:
    """FLUSHALL, waiting as long as a million keys take (the store's client gives up after 5 s)."""
    client = redis.Redis.from_url(url, socket_timeout=600)
    client.flushall()
    client.close()


def index_bytes(deps: DeliveryDeps, url: str, count: int, clinics: int, spacing_ms: int) -> dict[str, object]:
    """Bytes per patient of its clinic index entry and of its creation's audit entry, each on an
    empty Redis."""
    store = deps.engine.store
    template = build_enrollment(deps, sms_only(0, TZ), NOW)
    out: dict[str, object] = {"clinics": clinics, "spacing_ms": spacing_ms}
    flush(url)
    out["bytes_clinic_index"] = round(
        clinic_index_bytes(store, template, count, clinics=clinics, start=NOW, spacing_ms=spacing_ms), 1
    )
    flush(url)
    audit_bytes = audit_entry_bytes(store, count, clinics=clinics, start=NOW, spacing_ms=spacing_ms)
    out["bytes_audit_entry"] = round(audit_bytes, 1)
    flush(url)
    return out


def main() -> None:
    quiet_logs()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1_000_000, help="completed programs held at once")
    parser.add_argument("--sample", type=int, default=50, help="programs actually run through the engine")
    parser.add_argument("--clinics", type=int, default=100, help="clinics the patients are spread over")
    parser.add_argument("--spacing-ms", type=int, default=2592, help="time between two creates (1M in 30 days)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="caredrip-bench-") as tmp:
        server = RedisServer.on_free_port(Path(tmp) / "redis", appendonly=False)
        try:
            redis.Redis.from_url(server.url).config_set("hash-max-ziplist-value", HASH_MAX_LISTPACK_VALUE)
            result: dict[str, object] = {"figure": "program_memory", **redis_info(server.url)}
            result.update(measure(server.url, Path(tmp), args.sample, args.count, args.clinics, args.spacing_ms))
            result["target"] = {"bytes_per_program_total_after_8_days": 1500}
            emit(result)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
