"""Counter increments of one batch, summed: one HINCRBY per distinct counter and one EXPIRE per
key, instead of the three or four commands each message's outcome adds (worker.store.counters).

Only calls that are pure writes to the counters (`cd:stats:total`, `cd:stats:m:<minute>`: HINCRBY
and EXPIRE, replies unread) are summed; they go at the end of the batch's round trip, which no
call in the same batch reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from worker.store.keys import STATS_TOTAL, stats_minute_key
from worker.store.ops import Call, Command, effect

_MINUTE_PREFIX = stats_minute_key(0)[: -len("0")]
_NO_REPLY = effect().parse


def _counter_op(op: object) -> bool:
    if not isinstance(op, Command) or op.name not in ("hincrby", "expire") or op.kwargs:
        return False
    key = str(op.args[0])
    return key == STATS_TOTAL or key.startswith(_MINUTE_PREFIX)


def summable(call: Call[Any]) -> bool:
    """A call made only of counter writes whose replies nobody reads."""
    return call.parse is _NO_REPLY and bool(call.ops) and all(_counter_op(op) for op in call.ops)


@dataclass
class Tally:
    """Counter increments and expiries gathered from summable calls."""

    increments: dict[tuple[str, str], int] = field(default_factory=dict)
    expiries: dict[str, int] = field(default_factory=dict)

    def add(self, call: Call[Any]) -> None:
        for op in call.ops:
            assert isinstance(op, Command)
            if op.name == "hincrby":
                key, counter, n = op.args
                self.increments[(key, counter)] = self.increments.get((key, counter), 0) + int(n)
            else:
                key, ttl = op.args
                self.expiries[key] = max(int(ttl), self.expiries.get(key, 0))

    def add_counts(self, counts: list[tuple[str, str]], expiry: tuple[str, int]) -> None:
        """One more on each counter (key, field) and the key's expiry: a send's outcome
        (worker.store.counters.outcome_counts), the same writes as its summable call."""
        increments = self.increments
        for counter in counts:
            increments[counter] = increments.get(counter, 0) + 1
        key, ttl = expiry
        self.expiries[key] = max(ttl, self.expiries.get(key, 0))

    def call(self) -> Call[None] | None:
        """The summed writes as one call (None when nothing was gathered); the tally is emptied."""
        if not self.increments and not self.expiries:
            return None
        ops = [Command("hincrby", (key, counter, n)) for (key, counter), n in self.increments.items()]
        ops += [Command("expire", (key, ttl)) for key, ttl in self.expiries.items()]
        self.increments, self.expiries = {}, {}
        return effect(*ops)
