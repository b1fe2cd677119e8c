"""The atomic per-recipient cap check (reserve_send.lua) against the one cap rule (`schedule.cap_hit`).

The Lua script counts what `cap_hit` counts (the recipient's local day, the last 7 x 24 h), so
the send path and `caredrip lint` never disagree: checked against random histories in zones with
DST and odd offsets, right at day boundaries, on a real Redis.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis

from tests.support.engine import INDEX, KEYRING
from worker.records import from_epoch_ms
from worker.schedule import cap_hit, local_day
from worker.store import Reservation, ReserveStatus, Store
from worker.store.keys import number_key, number_sends_key
from worker.store.numbers import send_field, send_tag

ZONES = ("America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu", "America/Santiago")
START = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def store(redis_url: str) -> Iterator[Store]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield Store(client, KEYRING, INDEX)
    client.close()


def reserve(
    store: Store, bi: str, mid: str, now: datetime, tz: ZoneInfo, per_day: int | None, per_week: int | None
) -> Reservation:
    batch = store.batch()
    reply = batch.reserve_send(bi, mid, now, local_day(now, tz), (per_day, per_week), 86400)
    batch.run()
    return reply.value


@pytest.mark.parametrize("seed", range(8))
def test_the_lua_check_agrees_with_cap_hit(store: Store, seed: int) -> None:
    rng = random.Random(seed)
    for case in range(60):
        tz = ZoneInfo(rng.choice(ZONES))
        per_day, per_week = rng.choice([(1, 3), (2, None), (None, 3), (1, None), (3, 5)])
        now = START + timedelta(days=rng.randint(0, 300), minutes=rng.randint(0, 1439))
        if rng.random() < 0.3:  # right at the recipient's local midnight, or just before it
            now = local_day(now, tz)[1] - timedelta(milliseconds=rng.choice([0, 1, 1000]))
        history = sorted(now - timedelta(minutes=rng.randint(0, 8 * 1440)) for _ in range(rng.randint(0, 5)))
        history = [from_epoch_ms(int(t.timestamp() * 1000)) for t in history]  # stored to the ms
        bi = f"case-{seed}-{case}"
        for i, sent in enumerate(history):  # some in the record, some parked
            key, field = (
                (number_key(bi), send_field(f"old.{i}")) if i % 2 else (number_sends_key(bi), send_tag(f"old.{i}"))
            )
            store.redis.hset(key, field, int(sent.timestamp() * 1000))
        expected_hit = cap_hit(now, tz, history, per_day, per_week) is not None
        result = reserve(store, bi, "m.1", now, tz, per_day, per_week)
        assert (result.status is ReserveStatus.HELD) == expected_hit, (tz, per_day, per_week, now, history)
        if expected_hit:
            assert sorted(result.sends) == [t for t in history if now - t <= timedelta(days=8)]


def test_a_reservation_is_taken_once_and_given_back(store: Store) -> None:
    tz, now = ZoneInfo("America/New_York"), datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    assert reserve(store, "bi", "e1.welcome.sms.1", now, tz, 1, 3).status is ReserveStatus.NEW
    assert reserve(store, "bi", "e1.welcome.sms.1", now, tz, 1, 3).status is ReserveStatus.HAD  # the same message
    held = reserve(store, "bi", "e2.welcome.sms.1", now, tz, 1, 3)
    assert (held.status, held.sends) == (ReserveStatus.HELD, (now,))
    store.release_send("bi", "e1.welcome.sms.1")
    assert reserve(store, "bi", "e2.welcome.sms.1", now, tz, 1, 3).status is ReserveStatus.NEW
    assert store.recent_sends("bi") == [now]
    assert store.redis.hkeys(number_key("bi")) == [send_field("e2.welcome.sms.1")]
    assert 7 * 86400 * 1000 < store.redis.pttl(number_key("bi")) <= 8 * 86400 * 1000  # at least the 8 days kept


def test_parked_sends_leave_the_record_and_still_count(store: Store) -> None:
    tz, now = ZoneInfo("America/New_York"), datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    earlier, stale = now - timedelta(hours=30), now - timedelta(days=9)
    store.redis.hset(number_key("bi"), "e:e1", "c_a")
    store.redis.hset(number_key("bi"), send_field("e1.b.sms.1"), int(stale.timestamp() * 1000))
    assert reserve(store, "bi", "e1.a.sms.1", earlier, tz, 1, 3).status is ReserveStatus.NEW
    assert store.park_sends(["bi", "bi"], now) == 1  # the stale one dropped, the other moved
    assert store.redis.hgetall(number_key("bi")) == {"e:e1": "c_a"}
    assert store.redis.hgetall(number_sends_key("bi")) == {send_tag("e1.a.sms.1"): str(int(earlier.timestamp() * 1000))}
    assert 7 * 86400 * 1000 < store.redis.pttl(number_sends_key("bi")) <= 8 * 86400 * 1000
    assert store.recent_sends("bi") == [earlier]
    assert reserve(store, "bi", "e1.a.sms.1", now, tz, 1, 3).status is ReserveStatus.HAD  # its place, parked
    assert reserve(store, "bi", "e2.a.sms.1", now, tz, 2, 2).status is ReserveStatus.NEW  # counted with it
    assert reserve(store, "bi", "e3.a.sms.1", now, tz, 3, 2).sends == (earlier, now)  # the week is full
    store.release_send("bi", "e1.a.sms.1")  # a parked place given back too
    assert store.recent_sends("bi") == [now] and not store.redis.exists(number_sends_key("bi"))
    assert store.park_sends([], now) == 0
