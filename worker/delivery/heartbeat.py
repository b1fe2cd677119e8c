"""A send batch's heartbeat: a thread that renews the batch's leases while the batch works.

Leases are short (CAREDRIP_LEASE_SECONDS, 20 s by default), so that what a dead worker had
claimed comes back within seconds; a live batch keeps its claims by renewing them once a third
of the lease has gone by (renew.lua: only the claim's own token extends, and only the entries it
still holds). Each renewal that covered every claim of the batch moves the batch's deadline on
(worker.delivery.deadline). A renewal that comes too late (the lease end the batch last confirmed
has passed, so an entry may have been reaped and handed to another task) renews nothing and ends
the heartbeat: the deadline stays where it was, already passed, and the batch puts the rest back.
A batch that ends within a third of its lease never renews (no command spent); one still
working after 240 s (the prefork pool's soft time limit) is not renewed any more: its deadline
passes and the rest of it goes back to the due index.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from worker.delivery.deadline import Deadline, renewed_deadline
from worker.logs import get_logger
from worker.store import Lease, Store

log = get_logger("caredrip.delivery")

RENEW_AFTER_FRACTION = 1 / 3  # of a lease gone by: the next renewal (two renewals fit in a lease)
MAX_HOLD_SECONDS = 240.0  # no renewal after this (celery.toml's soft time limit): a stuck batch lets go


@dataclass
class ClaimHeld:
    """One claim of the batch: its token, the lease end last confirmed (Redis time, ms), the
    lease's length (ms) and its entries."""

    token: str
    end_ms: int
    length_ms: int
    eids: list[str] = field(default_factory=list)


def claims_of(leases: Sequence[Lease], lease_ms: int) -> list[ClaimHeld]:
    """The batch's leases grouped by claim; bare ids (no token: no claim known) are left out."""
    by_token: dict[str, ClaimHeld] = {}
    for lease in leases:
        if lease.expires_at is None:
            continue
        held = by_token.get(lease.token)
        if held is None:
            length = lease.length_seconds
            length_ms = int(length * 1000) if length else lease_ms
            held = by_token[lease.token] = ClaimHeld(lease.token, int(lease.expires_at * 1000), length_ms)
        held.eids.append(lease.enrollment_id)
    return list(by_token.values())


@dataclass
class Heartbeat:
    """Renews one batch's claims on `channel` and moves `deadline` on (one `beat` at a time)."""

    store: Store
    channel: str
    claims: list[ClaimHeld]
    deadline: Deadline
    wall: Callable[[], float] = time.time

    def next_beat_in(self) -> float:
        """Seconds until a third of the earliest-ending claim's lease has gone by (0: now)."""
        due = min(c.end_ms - c.length_ms * (1 - RENEW_AFTER_FRACTION) for c in self.claims) / 1000
        return max(0.0, due - self.wall())

    def beat(self) -> bool:
        """Renew every claim once; False (and nothing more to renew) when one came too late."""
        for held in self.claims:
            end_ms = self.store.renew(self.channel, held.token, held.end_ms, held.length_ms, held.eids)
            if end_ms is None:
                self.claims = []
                return False
            held.end_ms = end_ms
        earliest = min(self.claims, key=lambda c: c.end_ms)
        at = renewed_deadline(earliest.end_ms / 1000, earliest.length_ms / 1000, wall=self.wall)
        self.deadline.extend(at)
        return True


@contextmanager
def heartbeat(
    store: Store, channel: str, leases: Sequence[Lease], deadline: Deadline, lease_ms: int
) -> Iterator[Heartbeat]:
    """Renew the batch's leases from a thread while the block runs (none for bare ids)."""
    beat = Heartbeat(store, channel, claims_of(leases, lease_ms), deadline)
    if not beat.claims:
        yield beat
        return
    stop = threading.Event()
    thread = threading.Thread(target=_run, args=(beat, stop), name="caredrip-heartbeat", daemon=True)
    thread.start()
    try:
        yield beat
    finally:
        stop.set()
        thread.join()


def _run(beat: Heartbeat, stop: threading.Event, monotonic: Callable[[], float] = time.monotonic) -> None:
    let_go = monotonic() + MAX_HOLD_SECONDS
    while not stop.wait(beat.next_beat_in()):
        if monotonic() > let_go:
            log.warning("lease_let_go", channel=beat.channel)
            return
        try:
            if not beat.beat():
                log.warning("lease_lost", channel=beat.channel)
                return
        except Exception as exc:  # Redis unreachable: the deadline stays put; try again later
            log.warning("lease_renewal_failed", channel=beat.channel, error=type(exc).__name__)
            if stop.wait(1.0):
                return
