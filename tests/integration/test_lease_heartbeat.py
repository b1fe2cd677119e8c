"""Short leases kept alive by a send batch's heartbeat (issue 19, target 2), on the real store.

- Only the claim's own token renews, and only the entries it still holds.
- A renewal that comes after the lease end the batch last confirmed renews nothing: the batch's
  deadline stays passed (an entry may already be another task's).
- A dead worker's claims come back as soon as their (short) lease ends: what it had not begun goes
  out once; what it had taken "sending" ends `unknown`, never sent again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine import make_deps, new_enrollment, outbox_lines, send_inline
from worker.clock import FixedClock
from worker.delivery.deadline import Deadline
from worker.delivery.dispatch import dispatch_once
from worker.delivery.heartbeat import Heartbeat, claims_of, heartbeat
from worker.delivery.send import send_batch
from worker.delivery.types import DeliveryDeps
from worker.enrollment import enroll
from worker.records import MessageState
from worker.store import BeginStatus, Lease
from worker.store.keys import due_key, lease_key, lease_tokens_key

LEASE_MS = 20_000


@pytest.fixture
def deps(redis_url: str, tmp_path: Path) -> DeliveryDeps:
    return make_deps(redis_url, tmp_path / "outbox.jsonl", lease_seconds=LEASE_MS // 1000)


def enroll_sms(deps: DeliveryDeps, n: int) -> list[str]:
    return [
        enroll(deps.engine, new_enrollment(f"p-{i}", channels=("sms",), email=None, phone=f"+1415555{i:04d}"))[0].id
        for i in range(n)
    ]


def claim_leases(deps: DeliveryDeps, lease_ms: int = LEASE_MS) -> list[Lease]:
    claims = deps.engine.store.claim("sms", deps.engine.clock.now(), 100, lease_ms)
    return [Lease.parse(c.handle) for c in claims]


def lease_ends(deps: DeliveryDeps) -> dict[str, float]:
    pairs: Any = deps.engine.store.redis.zrange(lease_key("sms"), 0, -1, withscores=True)
    return {str(m): float(s) for m, s in pairs}


def test_only_the_claims_own_token_renews_and_only_what_it_holds(deps: DeliveryDeps) -> None:
    enroll_sms(deps, 2)
    leases = claim_leases(deps)
    (held,) = claims_of(leases, LEASE_MS)
    store, before = deps.engine.store, lease_ends(deps)
    eids = [lease.enrollment_id for lease in leases]
    assert store.renew("sms", "1-2-other", held.end_ms, LEASE_MS, eids) is not None
    assert lease_ends(deps) == before  # another token renews nothing
    store.redis.hdel(lease_tokens_key("sms"), eids[1])  # as if released by the batch itself
    end = store.renew("sms", held.token, held.end_ms, LEASE_MS, eids)
    assert end is not None and end >= held.end_ms
    assert lease_ends(deps) == {eids[0]: float(end), eids[1]: before[eids[1]]}


def test_a_renewal_past_the_confirmed_lease_end_renews_nothing(deps: DeliveryDeps) -> None:
    enroll_sms(deps, 2)
    leases = claim_leases(deps)
    (held,) = claims_of(leases, LEASE_MS)
    before = lease_ends(deps)
    eids = [lease.enrollment_id for lease in leases]
    late = held.end_ms - LEASE_MS - 1_000  # the batch last confirmed an end a second ago
    assert deps.engine.store.renew("sms", held.token, late, LEASE_MS, eids) is None
    assert lease_ends(deps) == before


def test_a_beat_moves_the_deadline_on_and_a_late_one_leaves_it_passed(deps: DeliveryDeps) -> None:
    enroll_sms(deps, 3)
    leases = claim_leases(deps)
    deadline = Deadline(at=0.0, monotonic=lambda: 100.0)  # passed
    beat = Heartbeat(deps.engine.store, "sms", claims_of(leases, LEASE_MS), deadline)
    assert beat.next_beat_in() > 0  # a fresh lease: the first renewal waits a third of it
    assert beat.beat()
    assert deadline.at > 0.0 and not deadline.passed  # renewed: about a lease less its margin ahead
    assert set(lease_ends(deps).values()) == {float(beat.claims[0].end_ms)}

    late_claims = claims_of(leases, LEASE_MS)
    late_claims[0].end_ms -= 2 * LEASE_MS  # a heartbeat that stalled past its lease
    stalled = Heartbeat(deps.engine.store, "sms", late_claims, Deadline(at=0.0, monotonic=lambda: 100.0))
    assert not stalled.beat()
    assert stalled.deadline.at == 0.0 and stalled.claims == []


def test_the_heartbeat_thread_stops_with_its_batch(deps: DeliveryDeps) -> None:
    enroll_sms(deps, 1)
    leases = claim_leases(deps)
    with heartbeat(deps.engine.store, "sms", leases, Deadline(at=0.0), LEASE_MS):
        assert any(t.name == "caredrip-heartbeat" for t in threading.enumerate())
    assert not any(t.name == "caredrip-heartbeat" for t in threading.enumerate())
    with heartbeat(deps.engine.store, "sms", [Lease("bare-id")], Deadline(at=0.0), LEASE_MS) as beat:
        assert beat.claims == []  # a bare id: no claim to renew, no thread


@pytest.fixture
def dead_worker_claims(deps: DeliveryDeps) -> Iterator[tuple[list[str], str]]:
    """Three claimed welcomes whose worker died at once (a lease of 0 ms: expired already), after
    taking "sending" for the first one."""
    eids = enroll_sms(deps, 3)
    leases = claim_leases(deps, lease_ms=0)
    assert sorted(lease.enrollment_id for lease in leases) == sorted(eids)
    now = deps.engine.clock.now()
    begun = deps.engine.store.begin_send(f"{eids[0]}.welcome.sms.1", cursor=0, now=now, stale_s=deps.lease_seconds)
    assert begun.status is BeginStatus.OK
    yield eids, f"{eids[0]}.welcome.sms.1"


def test_a_dead_workers_claims_come_back_at_once_and_never_go_twice(
    deps: DeliveryDeps, dead_worker_claims: tuple[list[str], str], tmp_path: Path
) -> None:
    eids, taken = dead_worker_claims
    clock, store = deps.engine.clock, deps.engine.store
    assert isinstance(clock, FixedClock)
    dispatch_once(deps, send_inline(deps))  # reaped (lease over), claimed again, sent
    sent = [line["id"] for line in outbox_lines(tmp_path / "outbox.jsonl")]
    assert sorted(sent) == sorted(f"{e}.welcome.sms.1" for e in eids[1:])  # the two never begun
    assert store.redis.zscore(due_key("sms"), eids[0]) is not None  # "sending" recently: looked at later
    clock.advance(timedelta(seconds=deps.lease_seconds + 1))
    dispatch_once(deps, send_inline(deps))
    record = store.record(taken)
    assert record is not None and record.state is MessageState.UNKNOWN  # never re-sent by itself
    sent = [line["id"] for line in outbox_lines(tmp_path / "outbox.jsonl")]
    assert taken not in sent and len(sent) == len(set(sent)) == 2
    assert store.in_flight("sms") == 0


def test_a_killed_workers_task_coming_back_late_changes_nothing(deps: DeliveryDeps, tmp_path: Path) -> None:
    """acks_late: the broker hands a killed worker's batch out again after its visibility timeout.
    By then its claim was reaped and the messages went out under another: it sends nothing, marks
    nothing and releases no one else's entry."""
    eids = enroll_sms(deps, 2)
    stale_handles = [lease.enrollment_id + ":" + lease.token for lease in claim_leases(deps, lease_ms=0)]
    dispatch_once(deps, send_inline(deps))  # reaped and sent under a new claim
    store = deps.engine.store
    after = {e: store.redis.zscore(due_key("sms"), e) for e in eids}  # each one's next lesson
    records = {e: store.record(f"{e}.welcome.sms.1") for e in eids}
    counts = send_batch(deps, "sms", stale_handles).counts
    assert sum(counts.values()) == 2 and "sent" not in counts
    assert {e: store.redis.zscore(due_key("sms"), e) for e in eids} == after
    assert {e: store.record(f"{e}.welcome.sms.1") for e in eids} == records
    sent = [line["id"] for line in outbox_lines(tmp_path / "outbox.jsonl")]
    assert sorted(sent) == sorted(f"{e}.welcome.sms.1" for e in eids)  # once each
