"""The dispatch window's ticks (issue 19, target 4): an entry falling due inside a quiet window
is claimed when it falls due, not at the next window; an empty index waits a whole tick. Driven
on the fixed clock: the window's sleep moves the caredrip clock and its monotonic clock together."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.support.engine import make_deps, new_enrollment
from worker.clock import FixedClock
from worker.delivery.dispatch import WAKE_MIN_SECONDS, dispatch_window, until_next_due
from worker.delivery.types import DeliveryDeps
from worker.enrollment import enroll
from worker.records import epoch_ms
from worker.store.keys import due_key


class Window:
    """A window's sleep and monotonic clock, both moving the deps' fixed clock."""

    def __init__(self, clock: FixedClock) -> None:
        self.clock, self.elapsed, self.sleeps = clock, 0.0, list[float]()
        self.claimed: list[tuple[float, list[str]]] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.elapsed += seconds
        self.clock.advance(timedelta(seconds=seconds))

    def monotonic(self) -> float:
        return self.elapsed

    def enqueue(self, _channel: str, handles: list[str]) -> None:
        self.claimed.append((self.elapsed, handles))


def due_in(deps: DeliveryDeps, seconds: float) -> str:
    eid = enroll(deps.engine, new_enrollment(channels=("sms",), email=None))[0].id
    at = deps.engine.clock.now() + timedelta(seconds=seconds)
    deps.engine.store.redis.zadd(due_key("sms"), {eid: epoch_ms(at)})
    return eid


def test_an_entry_due_inside_the_window_is_claimed_when_it_falls_due(redis_url: str, tmp_path: Path) -> None:
    deps = make_deps(redis_url, tmp_path / "outbox.jsonl")
    clock = deps.engine.clock
    assert isinstance(clock, FixedClock)
    eid = due_in(deps, 0.4)
    window = Window(clock)
    handed = dispatch_window(deps, window.enqueue, window_seconds=1.0, sleep=window.sleep, monotonic=window.monotonic)
    assert handed == 1
    ((at, handles),) = window.claimed
    assert handles[0].startswith(eid) and at == window.sleeps[0] == 0.4  # not a whole tick later


def test_the_wait_for_the_next_entry_is_bounded_by_a_tick_and_a_minimum(redis_url: str, tmp_path: Path) -> None:
    deps = make_deps(redis_url, tmp_path / "outbox.jsonl")
    assert until_next_due(deps, 1.0) == 1.0  # nothing due at all: a whole tick
    due_in(deps, 30)
    assert until_next_due(deps, 1.0) == 1.0  # due later than a tick
    due_in(deps, 0.01)
    assert until_next_due(deps, 1.0) == WAKE_MIN_SECONDS  # never a busy loop
