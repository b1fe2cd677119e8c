"""What status and /metrics read: message counters, the dispatch heartbeat, broker queue lengths.

Counters are kept in Redis because workers are other processes: totals since the store began
(`cd:stats:total`, by state, channel and program) and per-minute counts kept two hours.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from worker.records import MessageState, epoch_s, from_epoch_s
from worker.store.keys import DISPATCH_KEY, STATS_MINUTE_TTL_S, STATS_TOTAL, queue_keys, stats_minute_key
from worker.store.ops import Call, command, effect, one
from worker.store.results import CountKey, DispatchInfo


def count(state: MessageState, channel: str, program: str) -> Call[None]:
    """One more message in `state` in the totals (a status callback's final state)."""
    return effect(command("hincrby", STATS_TOTAL, f"{state.value}:{channel}:{program}", 1))


def count_outcome(state: MessageState, channel: str, program: str, now: datetime) -> Call[None]:
    """One more message in `state` in the totals and in this minute's counts (a send's outcome)."""
    minute = stats_minute_key(epoch_s(now) // 60)
    return effect(
        *count(state, channel, program).ops,
        command("hincrby", minute, f"{state.value}:{channel}", 1),
        command("expire", minute, STATS_MINUTE_TTL_S),
    )


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
        for field, value in counts.items():
            state = str(field).split(":", 1)[0]
            found[state] = found.get(state, 0) + int(value)
    return found


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
