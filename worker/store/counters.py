"""What status and /metrics read: message counters, the dispatch heartbeat, broker queue lengths.

Counters are kept in Redis because workers are other processes: totals since the store began
(`cd:stats:total`, by state, channel and program) and per-minute counts kept 25 hours: outcomes
by state and channel, and the lateness of sent messages in a few fixed buckets (`late:<bound>`,
worker.lateness) from which p50/p99 are estimated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from worker import lateness as late
from worker.records import MessageState, epoch_s, from_epoch_s
from worker.store.keys import DISPATCH_KEY, STATS_MINUTE_TTL_S, STATS_TOTAL, queue_keys, stats_minute_key
from worker.store.ops import Call, command, effect, one
from worker.store.results import CountKey, DispatchInfo, MinuteCounts


def count(state: MessageState, channel: str, program: str) -> Call[None]:
    """One more message in `state` in the totals (a status callback's final state)."""
    return effect(command("hincrby", STATS_TOTAL, f"{state.value}:{channel}:{program}", 1))


def count_outcome(
    state: MessageState, channel: str, program: str, now: datetime, lateness_s: int | None = None
) -> Call[None]:
    """One more message in `state` in the totals and in this minute's counts (a send's outcome);
    with `lateness_s` (a sent message), one more in this minute's lateness bucket. (A Batch adds
    `outcome_counts` to its tally directly: the same writes.)"""
    counts, (minute, ttl) = outcome_counts(state, channel, program, now, lateness_s)
    return effect(*(command("hincrby", key, name, 1) for key, name in counts), command("expire", minute, ttl))


def outcome_counts(
    state: MessageState, channel: str, program: str, now: datetime, lateness_s: int | None = None
) -> tuple[list[tuple[str, str]], tuple[str, int]]:
    """A send's outcome in the counters: the counters (key, field) it adds one to — the totals and
    this minute's counts; with `lateness_s` (a sent message), this minute's lateness bucket — and
    the minute key with its expiry. A batch sums them (worker.store.tally)."""
    minute = stats_minute_key(epoch_s(now) // 60)
    counts = [(STATS_TOTAL, f"{state.value}:{channel}:{program}"), (minute, f"{state.value}:{channel}")]
    if lateness_s is not None:
        counts.append((minute, f"{late.FIELD}{late.bucket(lateness_s)}"))
    return counts, (minute, STATS_MINUTE_TTL_S)


def totals() -> Call[dict[CountKey, int]]:
    """Messages that reached each state, by channel and program, since the store began."""
    return one(command("hgetall", STATS_TOTAL), _totals)


def _totals(raw: dict[str, str]) -> dict[CountKey, int]:
    found: dict[CountKey, int] = {}
    for key, value in raw.items():
        state, _, rest = str(key).partition(":")
        channel, _, program = rest.partition(":")
        found[CountKey(state, channel, program)] = int(value)
    return found


def recent_outcomes(now: datetime, minutes: int) -> Call[dict[str, int]]:
    """Messages by state over the last `minutes` minutes up to `now` (caredrip clock)."""
    last = epoch_s(now) // 60
    ops = tuple(command("hgetall", stats_minute_key(m)) for m in range(last - minutes + 1, last + 1))
    return Call(ops, _by_state)


def _by_state(per_minute: list[Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for counts in per_minute:
        for state, n in _minute(counts)[0].items():
            found[state] = found.get(state, 0) + n
    return found


def minute_counts(now: datetime, minutes: int) -> Call[list[MinuteCounts]]:
    """Each of the last `minutes` minutes up to `now`, oldest first: outcomes by state and the
    lateness buckets' counts (worker.lateness)."""
    last = epoch_s(now) // 60
    span = range(last - minutes + 1, last + 1)
    ops = tuple(command("hgetall", stats_minute_key(m)) for m in span)

    def parse(raw: list[Any]) -> list[MinuteCounts]:
        return [MinuteCounts(from_epoch_s(m * 60), *_minute(counts)) for m, counts in zip(span, raw, strict=True)]

    return Call(ops, parse)


def _minute(counts: dict[str, str]) -> tuple[dict[str, int], dict[int, int]]:
    """One minute's hash: (messages by state, lateness bucket -> sent messages)."""
    states: dict[str, int] = {}
    buckets: dict[int, int] = {}
    for field, value in counts.items():
        name = str(field)
        if name.startswith(late.FIELD):
            buckets[int(name[len(late.FIELD) :])] = int(value)
        else:
            state = name.split(":", 1)[0]
            states[state] = states.get(state, 0) + int(value)
    return states, buckets


def note_dispatch(now: datetime, handed: int) -> Call[None]:
    return effect(
        command("hset", DISPATCH_KEY, mapping={"last_at": epoch_s(now)}),
        command("hincrby", DISPATCH_KEY, "runs", 1),
        command("hincrby", DISPATCH_KEY, "handed", handed),
    )


def dispatch_info() -> Call[DispatchInfo]:
    return one(command("hgetall", DISPATCH_KEY), _dispatch_info)


def _dispatch_info(raw: dict[str, str]) -> DispatchInfo:
    last = int(raw.get("last_at") or 0)
    return DispatchInfo(from_epoch_s(last) if last else None, int(raw.get("runs") or 0), int(raw.get("handed") or 0))


def queue_length(queue: str) -> Call[int]:
    """Tasks waiting in a kombu queue (every priority step) on the broker, this same Redis."""
    return Call(tuple(command("llen", key) for key in queue_keys(queue)), lambda lengths: sum(int(n) for n in lengths))
