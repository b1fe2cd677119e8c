"""A send batch's deadline: its claim's lease expiry minus a safety margin.

The threads pool applies no Celery time limit, so a batch keeps its own: the claim's token says
when its lease runs out (Redis's clock, real time), and the batch's heartbeat
(worker.delivery.heartbeat) moves it on each time it renews the lease. Before each chunk the batch stops if the
deadline has passed (the rest goes back to the due index, nothing sent, nothing marked), and each
provider call gets no more time than is left (worker.channels.timeouts). So no call outlives the
lease: the reaper never hands a message to another task, which would mark it `unknown`, while
this one may still send it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from worker.store import Lease

MARGIN_FRACTION = 0.1  # of the lease: the last tenth is left for recording outcomes and clock skew
MARGIN_MIN_SECONDS = 0.5
MARGIN_MAX_SECONDS = 30.0


def margin_seconds(lease_seconds: float) -> float:
    """Kept free at the end of a lease: a tenth of it, at least half a second, at most 30 s."""
    return min(MARGIN_MAX_SECONDS, max(MARGIN_MIN_SECONDS, lease_seconds * MARGIN_FRACTION))


@dataclass
class Deadline:
    """An instant on the monotonic clock `monotonic` reads; only ever moved later (`extend`), by
    the heartbeat's thread once it renewed every lease the batch still holds."""

    at: float
    monotonic: Callable[[], float] = time.monotonic

    def extend(self, at: float) -> None:
        self.at = max(self.at, at)

    def left(self) -> float:
        return self.at - self.monotonic()

    @property
    def passed(self) -> bool:
        return self.left() <= 0


def batch_deadline(
    leases: Sequence[Lease],
    lease_seconds: float,
    *,
    wall: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> Deadline:
    """The batch's deadline: the earliest lease end its tokens carry, less the margin of that
    lease's length (bare ids: a lease of `lease_seconds` taken now). `wall` is real Unix time,
    compared with Redis's clock once."""
    now_wall, now_mono = wall(), monotonic()
    ends = [
        lease.expires_at - margin_seconds(lease.length_seconds or lease_seconds)
        for lease in leases
        if lease.expires_at is not None
    ]
    end = min(ends) if ends else now_wall + lease_seconds - margin_seconds(lease_seconds)
    return Deadline(now_mono + (end - now_wall), monotonic)


def renewed_deadline(
    lease_end: float,
    lease_seconds: float,
    *,
    wall: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> float:
    """The deadline (on the monotonic clock) a lease renewed to end at `lease_end` (Unix seconds,
    Redis's clock) gives: that end less the lease's margin."""
    return monotonic() + (lease_end - margin_seconds(lease_seconds) - wall())
