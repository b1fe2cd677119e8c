"""A batch sums its counter writes (worker.store.tally): the same totals and minute counts as one
write per message, in one command per counter, and every other call untouched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.engine import make_store
from worker.records import MessageState, epoch_s
from worker.store.keys import STATS_MINUTE_TTL_S, STATS_TOTAL, stats_minute_key

NOW = datetime(2026, 3, 2, 15, 0, 30, tzinfo=UTC)


def test_a_batch_sums_its_counters_and_answers_its_other_calls(redis_url: str, tmp_path: Path) -> None:
    store = make_store(redis_url)
    store.redis.config_resetstat()
    batch = store.batch()
    for state in (MessageState.SENT, MessageState.SENT, MessageState.UNKNOWN):
        batch.count_outcome(state, "sms", "twitching", NOW)
    batch.count_outcome(MessageState.SENT, "sms", "twitching", NOW + timedelta(minutes=1))  # the next minute
    totals = batch.totals()  # a read in the same batch still gets its own reply
    batch.run()
    assert totals.value == {}  # read before the summed writes, which go last
    minute = stats_minute_key(epoch_s(NOW) // 60)
    assert store.redis.hgetall(STATS_TOTAL) == {"sent:sms:twitching": "3", "unknown:sms:twitching": "1"}
    assert store.redis.hgetall(minute) == {"sent:sms": "2", "unknown:sms": "1"}
    assert 0 < store.redis.ttl(minute) <= STATS_MINUTE_TTL_S
    stats = store.redis.info("commandstats")
    assert stats["cmdstat_hincrby"]["calls"] == 5  # 2 totals + 3 minute counters, not 8
    assert stats["cmdstat_expire"]["calls"] == 2  # one per minute key, not 4
