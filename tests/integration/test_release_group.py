"""A batch sends its consecutive releases on one channel as one release.lua call: each entry
checked against its own claim's token as one call each did, in the batch's order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.engine import make_store
from worker.records import epoch_ms
from worker.store.keys import due_key, lease_key, lease_tokens_key

NOW = datetime(2026, 3, 2, 15, 0, 30, tzinfo=UTC)


def test_consecutive_releases_go_as_one_script_call_answered_per_entry(redis_url: str) -> None:
    store = make_store(redis_url)
    r = store.redis
    r.zadd(due_key("sms"), {f"e{i}": epoch_ms(NOW) for i in range(5)})
    claims = store.claim("sms", NOW, 5, 60_000)
    token = {c.enrollment_id: c.token for c in claims}
    assert len(token) == 5
    r.zadd(due_key("sms"), {"e3": epoch_ms(NOW + timedelta(minutes=1))})  # put back meanwhile (a PATCH)
    store.redis.config_resetstat()
    batch = store.batch()
    later = NOW + timedelta(hours=1)
    done = [
        batch.reschedule("e0", "sms", later, token=token["e0"]),
        batch.reschedule("e1", "sms", None, token=token["e1"]),
        batch.reschedule("e2", "sms", later, token="someone-else"),  # not this caller's claim
        batch.reschedule("e3", "sms", later, token=token["e3"]),  # keeps the earlier time
    ]
    between = batch.in_flight("sms")  # another call: the releases before it have run
    last = batch.reschedule("e4", "sms", later, token=token["e4"])
    batch.run()
    assert [d.value for d in done] == [True, True, False, True] and last.value is True
    assert between.value == 2  # e2 (not released) and e4 (released after the count)
    assert r.zscore(due_key("sms"), "e0") == epoch_ms(later)
    assert r.zscore(due_key("sms"), "e1") is None
    assert r.zscore(due_key("sms"), "e3") == epoch_ms(NOW + timedelta(minutes=1))
    assert r.zrange(lease_key("sms"), 0, -1) == ["e2"] and r.hkeys(lease_tokens_key("sms")) == ["e2"]
    assert r.info("commandstats")["cmdstat_evalsha"]["calls"] == 2  # the 4 before the count, then e4
