"""The one source of "now": real, fixed (tests), or scaled (demos, shared through the store).

Nothing else reads the time of day; elsewhere only monotonic timers measure waits and timeouts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the current instant, timezone-aware in UTC; `scale` is virtual seconds per real one."""

    @property
    def scale(self) -> float: ...

    def now(self) -> datetime: ...


def utc(dt: datetime) -> datetime:
    """The same instant in UTC; naive datetimes are refused rather than guessed."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: a timezone is required")
    return dt.astimezone(UTC)


class SystemClock:
    """Real time."""

    scale = 1.0

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """Time that moves only when told to: tests travel through days with `advance`."""

    current: datetime
    scale: float = 1.0

    def __post_init__(self) -> None:
        self.current = utc(self.current)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self.current += delta if delta is not None else timedelta(**kwargs)
        return self.current

    def set(self, instant: datetime) -> None:
        self.current = utc(instant)


@dataclass(frozen=True)
class ScaledClock:
    """Virtual time running `scale` times faster than real time from a shared origin.

    `real_origin` is a Unix timestamp and `virtual_origin` the virtual instant at that moment;
    every process on the same Redis reads the same pair, so they all agree on "now".
    """

    real_origin: float
    virtual_origin: datetime
    scale: float

    def now(self) -> datetime:
        elapsed = (time.time() - self.real_origin) * self.scale
        return self.virtual_origin + timedelta(seconds=elapsed)

    def real_seconds(self, virtual: timedelta) -> float:
        """How long `virtual` lasts on the wall clock."""
        return virtual.total_seconds() / self.scale


class OriginStore(Protocol):
    """Where the processes on one Redis keep the scaled clock's origin (worker.store.Store)."""

    def clock_origin(self, real_origin: float, scale: float, *, replace: bool = False) -> tuple[float, float]: ...


def shared_scaled_clock(store: OriginStore, scale: float, *, fresh: bool = False) -> ScaledClock:
    """The scaled clock every process on `store` agrees on: the stored origin, or now stored as
    the origin when there is none, when it was kept for another scale, or with `fresh` (a demo)."""
    now = time.time()
    origin, stored_scale = store.clock_origin(now, scale, replace=fresh)
    if stored_scale != scale:
        origin, _ = store.clock_origin(now, scale, replace=True)
    return ScaledClock(real_origin=origin, virtual_origin=datetime.fromtimestamp(origin, UTC), scale=scale)


def to_virtual(clock: Clock, real_seconds: float) -> timedelta:
    """A real-time wait (a retry backoff, a lease) expressed on the clock's own time."""
    return timedelta(seconds=real_seconds * clock.scale)
