"""Dispatch: return expired leases, claim what is due, hand it to send tasks in batches.

Each tick first ends the patients' own pauses that are due (worker.pauses: PAUSE resumes by
itself after 7 days; one sorted-set read when none is).

The broker only ever carries work that is due now: the schedule is the due index in Redis, and
a claim moves entries to a lease set in one Lua call, so a lost task's messages come back when
its lease runs out. Send tasks get each entry's handle (enrollment id and claim token): only the
task holding the current claim releases it, and the token says when its lease ends. One
dispatcher runs at a time (a Redis lock); beat starts one window a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from worker.delivery.types import DeliveryDeps
from worker.pauses import resume_due

BUSY_TICK_SECONDS = 0.05  # between ticks while a backlog is being worked off
WAKE_MIN_SECONDS = 0.1  # the earliest a quiet window ticks again for an entry falling due soon


def dispatch_once(deps: DeliveryDeps, enqueue: Callable[[str, list[str]], None]) -> int:
    """One tick: return expired leases, claim what is due, hand it over in batches."""
    return _dispatch(deps, enqueue)[0]


def _dispatch(deps: DeliveryDeps, enqueue: Callable[[str, list[str]], None]) -> tuple[int, bool]:
    """(handed over, backlogged): backlogged when a channel claimed work or hit its in-flight cap,
    so more may be due at once and the next tick should come soon."""
    store, now = deps.engine.store, deps.engine.clock.now()
    resume_due(deps.engine, now)  # patients' 7-day pauses that end now: their steps go back in the due index
    handed, backlogged = 0, False
    for channel in deps.channels:
        store.reap(channel, now)
        room = deps.max_in_flight(channel) - store.in_flight(channel)
        backlogged |= room <= 0
        while room > 0:
            claimed = store.claim(channel, now, min(deps.send_batch, room), deps.lease_ms)
            if not claimed:
                break
            enqueue(channel, [c.handle for c in claimed])
            handed += len(claimed)
            room -= len(claimed)
            backlogged = True
    return handed, backlogged


def tick_seconds(scale: float) -> float:
    """Real seconds between dispatch ticks: at most one virtual minute, never below 20 ms."""
    return min(1.0, max(0.02, 60.0 / scale))


def until_next_due(deps: DeliveryDeps, tick: float) -> float:
    """Real seconds until the earliest due entry of any channel, within [WAKE_MIN_SECONDS, tick]."""
    clock = deps.engine.clock
    at = deps.engine.store.next_due(list(deps.channels))
    if at is None:
        return tick
    real = (at - clock.now()).total_seconds() / clock.scale
    return min(tick, max(WAKE_MIN_SECONDS, real))


def dispatch_window(
    deps: DeliveryDeps,
    enqueue: Callable[[str, list[str]], None],
    *,
    window_seconds: float,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float] = time.monotonic,
) -> int:
    """Run dispatch ticks for about `window_seconds`; one dispatcher at a time (a Redis lock).

    Beat starts one window a second. A window that finds the previous one still running waits
    for it (up to half a window) instead of giving up, so windows follow each other with no gap.
    Within a window, a backlog is looked at again every 50 ms, and an entry falling due before
    the window ends when it falls due (at least 0.1 s later): a message is not late by a tick.
    """
    store = deps.engine.store
    tick = tick_seconds(deps.engine.clock.scale)
    give_up = monotonic() + window_seconds / 2
    token = store.acquire_lock("dispatch", int((window_seconds + 5) * 1000))
    while token is None and monotonic() < give_up:
        sleep(min(tick, 0.02))
        token = store.acquire_lock("dispatch", int((window_seconds + 5) * 1000))
    if token is None:
        return 0
    try:
        deadline = monotonic() + window_seconds
        handed, backlogged = _dispatch(deps, enqueue)
        # A backlog (work claimed, or the in-flight cap reached) is re-checked every 50 ms, so a
        # burst is handed over as fast as workers free up, not one in-flight cap per tick.
        # Without a backlog, the window ticks again when the next entry falls due (at most a
        # tick, at least 0.1 s away), so a message is not left waiting for the next window.
        while (
            monotonic() + (pause := min(tick, BUSY_TICK_SECONDS) if backlogged else until_next_due(deps, tick))
            < deadline
        ):
            sleep(pause)
            more, backlogged = _dispatch(deps, enqueue)
            handed += more
        store.note_dispatch(deps.engine.clock.now(), handed)
        return handed
    finally:
        store.release_lock("dispatch", token)
