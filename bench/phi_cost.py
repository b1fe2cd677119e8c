"""What sealing PHI costs: bytes per enrollment (plain vs sealed), microseconds per seal and open.

Text: name + phone (SMS only), name + phone + email: fields plain (names + values) against one
token per record (Keyring.seal_fields), base64url as stored and base85 for comparison. Redis:
`--count` SMS-only enrollments with their details plain (hash, due entry, the number's record), then
with `n` + `ph` + `r` sealed into one field `x` as caredrip stores them (the number's record is keyed
by blind index either way); INFO used_memory per enrollment, at hash-max-listpack-value 64 (default)
and 128, persistence off. Time: median of
many single calls. `python bench/phi_cost.py [--count 100000]`; the last line is the JSON object.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import random
import statistics
import sys
import tempfile
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/<name>.py` from anywhere

import redis

from tests.support.engine import make_deps, new_enrollment
from worker.clock import FixedClock
from worker.enrollment import build_enrollment
from worker.phi import IndexKey, Keyring
from worker.redis_server import RedisServer
from worker.store.codec import encode_enrollment_unsealed
from worker.store.keys import due_key, enrollment_key, number_key

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
NAMES = ["Ana", "Liam", "Zoë", "Mateo", "Olivia", "Sofía", "Nguyễn", "Isabella", "Guadalupe", "Maximiliano",
         "Christopher", "Jean-Pierre", "Bartholomew", "Aiyana", "Oluwaseun", "María José"]  # fmt: skip
PHONES = [("+1415", 7), ("+1212", 7), ("+447", 9), ("+5255", 8)]  # prefix, digits after it
DOMAINS = ["example.com", "mail.example.org", "clinic-mail.net", "correo.example.mx"]
SECRET = b"bench installation secret, 32 b!"
Row = dict[str, str]


def people(count: int, rng: random.Random) -> list[Row]:
    """Realistic PHI: first names of 3-12 characters, E.164 numbers, 20-30 character emails."""
    out = []
    for i in range(count):
        name = rng.choice(NAMES)
        prefix, digits = rng.choice(PHONES)
        local = f"{name.lower().replace(' ', '.')}.{rng.choice(['lopez', 'smith', 'tran', 'okafor'])}{i % 100}"
        email = f"{local}@{rng.choice(DOMAINS)}"[:30]
        out.append({"n": name, "ph": prefix + str(rng.randrange(10 ** (digits - 1), 10**digits)), "em": email})
    return out


def text_bytes(ring: Keyring, rows: list[Row], keys: tuple[str, ...]) -> dict[str, float]:
    """Mean bytes of the fields plain (names + values) and sealed (`x` + token); the largest token."""
    sizes: dict[str, list[int]] = {"plain": [], "sealed_b64url": [], "sealed_b85": []}
    for i, row in enumerate(rows):
        fields = {k: row[k] for k in keys}
        token = ring.seal_fields(fields, aad=f"{i:020x}")
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        sizes["plain"].append(sum(len(k) + len(v.encode()) for k, v in fields.items()))
        sizes["sealed_b64url"].append(1 + len(token))  # field name "x" + token
        sizes["sealed_b85"].append(1 + len(base64.b85encode(raw)))
    tokens = [size - 1 for size in sizes["sealed_b64url"]]
    return {
        **{name: round(statistics.fmean(values), 1) for name, values in sizes.items()},
        "largest_token": max(tokens),
        "tokens_over_64": round(sum(size > 64 for size in tokens) / len(tokens), 3),
    }


def redis_bytes(url: str, tmp: Path, rows: list[Row], *, sealed: bool, listpack_value: int) -> float:
    """used_memory per SMS-only enrollment (hash + due entry + the number's record)."""
    deps = make_deps(url, tmp / "outbox.jsonl", clock=FixedClock(NOW))
    client = deps.engine.store.redis
    client.flushall()
    client.config_set("hash-max-ziplist-value", listpack_value)  # the 6.2 name; 7.x takes it too
    ring, index = Keyring.generate(), IndexKey.from_secret(SECRET)
    new = new_enrollment("p-0", channels=("sms",), email=None, phone="+14155550100")
    template = encode_enrollment_unsealed(build_enrollment(deps.engine, new, NOW))
    before = int(client.info("memory")["used_memory"])
    pipe = client.pipeline(transaction=False)
    for i, row in enumerate(rows):
        eid = f"{i:020x}"
        fields = {**template, "r": f"p-{i}", "n": row["n"], "ph": row["ph"]}
        if sealed:
            details = {"n": fields.pop("n"), "ph": fields.pop("ph"), "r": fields.pop("r")}
            fields["x"] = ring.seal_fields(details, aad=eid)
        pipe.hset(enrollment_key(eid), mapping=dict[Any, Any](fields))
        pipe.zadd(due_key("sms"), {eid: 1_772_000_000_000 + i})
        pipe.hset(number_key(index.blind_index(row["ph"])), f"e:{eid}", "c_test")  # the number's record
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    return round((int(client.info("memory")["used_memory"]) - before) / len(rows), 1)


def median_us(call: Callable[[int], object], count: int) -> float:
    """Median microseconds of `count` single calls, call(0) .. call(count - 1)."""
    step = itertools.count()
    return round(statistics.median(timeit.repeat(lambda: call(next(step)), number=1, repeat=count)) * 1e6, 2)


def timings(ring: Keyring, rows: list[Row], count: int) -> dict[str, float]:
    sms = [{"n": r["n"], "ph": r["ph"]} for r in rows]
    tokens = [ring.seal_fields(f, aad=f"{i:020x}") for i, f in enumerate(sms)]
    index, n = IndexKey.from_secret(SECRET), len(rows)
    return {
        "seal_fields_us": median_us(lambda i: ring.seal_fields(sms[i % n], aad=f"{i % n:020x}"), count),
        "open_fields_us": median_us(lambda i: ring.open_fields(tokens[i % n], aad=f"{i % n:020x}"), count),
        "blind_index_us": median_us(lambda i: index.blind_index(rows[i % n]["ph"]), count),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=50_000)
    args = parser.parse_args()
    ring, rows = Keyring.generate(), people(args.count, random.Random(14))
    result: dict[str, object] = {
        "figure": "phi_cost",
        "text_sms": text_bytes(ring, rows[:10_000], ("n", "ph")),
        "text_sms_email": text_bytes(ring, rows[:10_000], ("n", "ph", "em")),
        **timings(ring, rows[:10_000], args.calls),
    }
    with (
        tempfile.TemporaryDirectory(prefix="caredrip-bench-") as tmp,
        RedisServer.on_free_port(Path(tmp) / "redis", appendonly=False) as server,
    ):
        runs = [(kind, limit) for limit in (64, 128) for kind in ("plain", "sealed")]
        figures = {
            f"{k}_{n}": redis_bytes(server.url, Path(tmp), rows, sealed=k == "sealed", listpack_value=n)
            for k, n in runs
        }
        info = redis.Redis.from_url(server.url, decode_responses=True).info()
        result.update(redis_sms_enrollment={**figures, "count": args.count}, redis_version=info["redis_version"])
    for name, value in result.items():
        print(f"{name:22} {value}")
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
