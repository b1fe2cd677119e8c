"""What sealing PHI costs: bytes per enrollment (plain vs sealed) and microseconds per seal and open.

Text: name + phone (SMS only) and name + phone + email, sealed as one token per record
(worker.phi.Keyring.seal_fields, bound to the enrollment id), in base64url (what caredrip stores)
and base85 (for comparison), against the same fields stored plain: bytes of field names and values.
Redis: `--count` SMS-only enrollments written as enroll() stores them (store.encode_enrollment,
one due entry, the phone -> clinic bucket entry) into a Redis with persistence off, then again
with `n` and `ph` replaced by one sealed field `x` and the phone bucket keyed by its blind index;
INFO used_memory before and after, divided by the count. Time: the median of many single calls.
`python bench/phi_cost.py [--count 100000]`; the last line printed is the JSON object.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/<name>.py` from anywhere

import redis

from tests.support.engine import make_deps, new_enrollment
from worker import logs
from worker.clock import FixedClock
from worker.enrollment import build_enrollment
from worker.phi import IndexKey, Keyring
from worker.redis_server import RedisServer
from worker.store.codec import encode_enrollment
from worker.store.keys import due_key, enrollment_key, phones_key

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
NAMES = ["Ana", "Liam", "Zoë", "Mateo", "Olivia", "Sofía", "Nguyễn", "Isabella", "Guadalupe", "Maximiliano",
         "Christopher", "Jean-Pierre", "Bartholomew", "Aiyana", "Oluwaseun", "María José"]  # fmt: skip
DOMAINS = ["example.com", "mail.example.org", "clinic-mail.net", "correo.example.mx"]


def people(count: int, rng: random.Random) -> list[dict[str, str]]:
    """Realistic PHI: first names of 3-12 characters, E.164 numbers, 20-30 character emails."""
    out = []
    for i in range(count):
        name = rng.choice(NAMES)
        phone = rng.choice(["+1415", "+1212", "+4477", "+5255"]) + f"{rng.randrange(10**7, 10**8)}"[: 7 + i % 2]
        local = f"{name.lower().replace(' ', '.')}.{rng.choice(['lopez', 'smith', 'tran', 'okafor'])}{i % 100}"
        email = f"{local}@{rng.choice(DOMAINS)}"[:30]
        out.append({"n": name, "ph": phone, "em": email})
    return out


def text_bytes(ring: Keyring, rows: list[dict[str, str]], keys: tuple[str, ...]) -> dict[str, float]:
    """Mean bytes of the fields plain (names + values) and sealed (`x` + token); the largest token."""
    plain, b64, b85 = [], [], []
    for i, row in enumerate(rows):
        fields = {k: row[k] for k in keys}
        token = ring.seal_fields(fields, aad=f"{i:020x}")
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        plain.append(sum(len(k) + len(v.encode()) for k, v in fields.items()))
        b64.append(1 + len(token))  # field name "x" + token
        b85.append(1 + len(base64.b85encode(raw)))
    mean = statistics.fmean
    return {
        "plain": round(mean(plain), 1),
        "sealed_b64url": round(mean(b64), 1),
        "sealed_b85": round(mean(b85), 1),
        "largest_token": max(b64) - 1,
        "tokens_over_64": round(sum(size - 1 > 64 for size in b64) / len(b64), 3),
    }


def redis_bytes(url: str, tmp: Path, rows: list[dict[str, str]], *, sealed: bool, listpack_value: int) -> float:
    """used_memory per SMS-only enrollment (hash + due entry + phone bucket entry)."""
    deps = make_deps(url, tmp / "outbox.jsonl", clock=FixedClock(NOW))
    client = deps.engine.store.redis
    client.flushall()
    client.config_set("hash-max-ziplist-value", listpack_value)  # the 6.2 name; 7.x takes it too
    ring, index = Keyring.generate(), IndexKey.from_secret(b"bench secret, 32 bytes or so...!")
    new = new_enrollment("p-0", channels=("sms",), email=None, phone="+14155550100")
    template = encode_enrollment(build_enrollment(deps.engine, new, NOW))
    before = int(client.info("memory")["used_memory"])
    pipe = client.pipeline(transaction=False)
    for i, row in enumerate(rows):
        eid = f"{i:020x}"
        fields = {**template, "r": f"p-{i}", "n": row["n"], "ph": row["ph"]}
        phone_field = row["ph"]
        if sealed:
            fields["x"] = ring.seal_fields({"n": fields.pop("n"), "ph": fields.pop("ph")}, aad=eid)
            phone_field = index.blind_index(row["ph"])
        pipe.hset(enrollment_key(eid), mapping=fields)
        pipe.zadd(due_key("sms"), {eid: 1_772_000_000_000 + i})
        pipe.hset(phones_key(phone_field), phone_field, "c_test")
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    return (int(client.info("memory")["used_memory"]) - before) / len(rows)


def median_us(call: Callable[[int], object], count: int) -> float:
    times = []
    for i in range(count):
        t0 = time.perf_counter_ns()
        call(i)
        times.append(time.perf_counter_ns() - t0)
    return round(statistics.median(times) / 1000, 2)


def timings(ring: Keyring, rows: list[dict[str, str]], count: int) -> dict[str, float]:
    sms = [{"n": r["n"], "ph": r["ph"]} for r in rows]
    tokens = [ring.seal_fields(f, aad=f"{i:020x}") for i, f in enumerate(sms)]
    index = IndexKey.from_secret(b"bench secret, 32 bytes or so...!")
    n = len(rows)
    return {
        "seal_fields_us": median_us(lambda i: ring.seal_fields(sms[i % n], aad=f"{i % n:020x}"), count),
        "open_fields_us": median_us(lambda i: ring.open_fields(tokens[i % n], aad=f"{i % n:020x}"), count),
        "blind_index_us": median_us(lambda i: index.blind_index(rows[i % n]["ph"]), count),
    }


def main() -> None:
    logs.configure(level="WARNING")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=50_000)
    args = parser.parse_args()
    ring = Keyring.generate()
    rows = people(args.count, random.Random(14))
    result: dict[str, object] = {
        "figure": "phi_cost",
        "text_sms": text_bytes(ring, rows[:10_000], ("n", "ph")),
        "text_sms_email": text_bytes(ring, rows[:10_000], ("n", "ph", "em")),
        **timings(ring, rows[:10_000], args.calls),
    }
    with tempfile.TemporaryDirectory(prefix="caredrip-bench-") as tmp_name:
        tmp = Path(tmp_name)
        server = RedisServer.on_free_port(tmp / "redis", appendonly=False)
        try:
            figures = {
                f"{kind}_{limit}": round(
                    redis_bytes(server.url, tmp, rows, sealed=kind == "sealed", listpack_value=limit), 1
                )
                for limit in (64, 128)
                for kind in ("plain", "sealed")
            }
            info = redis.Redis.from_url(server.url, decode_responses=True).info()
            result.update(redis_version=info["redis_version"], mem_allocator=info["mem_allocator"])
        finally:
            server.stop()
    result["redis_sms_enrollment"] = {**figures, "count": args.count}
    for name in ("text_sms", "text_sms_email", "redis_sms_enrollment"):
        print(f"{name:22} {result[name]}")
    print(f"{'µs (median)':22} seal {result['seal_fields_us']}  open {result['open_fields_us']}"
          f"  blind_index {result['blind_index_us']}")  # fmt: skip
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
