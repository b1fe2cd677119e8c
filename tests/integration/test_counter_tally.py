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


def test_a_batchs_outcome_counts_are_the_writes_of_count_outcome(redis_url: str) -> None:
    """Batch.count_outcome adds to the tally directly: the same counters and expiry as
    counters.count_outcome's commands, one by one."""
    from worker.store.counters import count_outcome
    from worker.store.ops import Command

    store = make_store(redis_url)
    outcomes = [(MessageState.SENT, 12), (MessageState.SENT, 4000), (MessageState.UNKNOWN, None)]
    batch = store.batch()
    for state, late in outcomes:
        batch.count_outcome(state, "sms", "twitching", NOW, late)
    batch.run()
    minute = stats_minute_key(epoch_s(NOW) // 60)
    tallied = (store.redis.hgetall(STATS_TOTAL), store.redis.hgetall(minute), store.redis.ttl(minute))
    store.redis.delete(STATS_TOTAL, minute)
    for state, late in outcomes:
        for op in count_outcome(state, "sms", "twitching", NOW, late).ops:
            assert isinstance(op, Command)
            getattr(store.redis, op.name)(*op.args)
    assert tallied == (store.redis.hgetall(STATS_TOTAL), store.redis.hgetall(minute), store.redis.ttl(minute))
    assert any(str(f).startswith("late:") for f in tallied[1])
