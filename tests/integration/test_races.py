"""Races found by reading (issue 13, item 14), driven deterministically: two real calls on the real
store, the second run at a chosen point inside the first (no sleeps, no threads).

- A timezone PATCH racing a finishing send never leaves the next message early.
- `begin_send` refuses a channel the enrollment no longer has.
- A lease carries its claim's token: a late task never releases a newer claim.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.support.engine import make_deps, new_enrollment, outbox_lines, run_until_idle, send_inline
from worker.channels.base import OutgoingMessage, SendResult
from worker.channels.outbox import OutboxChannel
from worker.clock import FixedClock
from worker.delivery.dispatch import dispatch_once
from worker.delivery.send import send_batch
from worker.delivery.types import DeliveryDeps
from worker.deps import EngineDeps
from worker.enrollment import EnrollmentChanges, enroll, update
from worker.programs import Program
from worker.records import Enrollment, EnrollmentUpdate, epoch_ms
from worker.schedule import due_at_cursor
from worker.store import BeginStatus, Store
from worker.store.keys import due_key, lease_key

NEW_YORK, LOS_ANGELES = ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles")
HYDRATION_DUE = datetime(2026, 3, 4, 10, 0, tzinfo=NEW_YORK)
TO_LA = EnrollmentChanges(timezone="America/Los_Angeles")


def sms_only(deps: DeliveryDeps) -> str:
    """An SMS-only patient in New York whose welcome went (Mar 2): hydration is next, Mar 4 10:00."""
    eid = enroll(deps.engine, new_enrollment(channels=("sms",), email=None))[0].id
    run_until_idle(deps, until=deps.engine.clock.now())
    return eid


def sleep_due(program: Program, tz: ZoneInfo, deps: DeliveryDeps) -> datetime | None:
    """When the third SMS (sleep, day 5 at 19:00) is due for the patient of `sms_only`."""
    anchor = datetime(2026, 3, 2, 15, 0, tzinfo=ZoneInfo("UTC"))
    return due_at_cursor(program, "sms", 2, anchor, tz, deps.engine.quiet)


def due_entry(store: Store, eid: str) -> float | None:
    score = store.redis.zscore(due_key("sms"), eid)
    return None if score is None else float(score)


class FinishingDuringUpdate(Store):
    """The real store, whose update write first lets a send that was in flight finish."""

    def __init__(self, inner: Store, finish: object) -> None:
        super().__init__(inner.redis, inner.keyring, inner.index)
        self._finish = finish

    def update_enrollment(self, eid: str, change: EnrollmentUpdate) -> None:
        self._finish()  # type: ignore[operator]
        super().update_enrollment(eid, change)


def test_a_timezone_patch_read_before_a_send_finished_does_not_move_the_next_message_early(
    redis_url: str, tmp_path: Path
) -> None:
    """The PATCH read cursor 1 (hydration); hydration is sent and the cursor moves to 2 (sleep)
    before the PATCH writes: the new due time is sleep's in Los Angeles, not hydration's."""
    deps = make_deps(redis_url, tmp_path / "outbox.jsonl")
    clock = deps.engine.clock
    assert isinstance(clock, FixedClock)
    eid = sms_only(deps)
    clock.set(HYDRATION_DUE)
    racing = dataclasses.replace(
        deps.engine, store=FinishingDuringUpdate(deps.engine.store, lambda: dispatch_once(deps, send_inline(deps)))
    )
    update(racing, eid, TO_LA)
    program = deps.engine.catalog.get("twitching")
    stored = deps.engine.store.get_enrollment(eid)
    assert stored is not None and stored.cursor["sms"] == 2
    assert stored.next_due["sms"] == sleep_due(program, LOS_ANGELES, deps)  # not hydration's time in LA
    run_until_idle(deps, until=datetime(2026, 3, 10, tzinfo=LOS_ANGELES))
    sleep = [m for m in outbox_lines(tmp_path / "outbox.jsonl") if m["step"] == "sleep"]
    assert sleep and sleep[0]["local_time"].startswith("2026-03-07T19:00"), sleep


class PatchingChannel(OutboxChannel):
    """The outbox, with a PATCH arriving while the provider call is in flight."""

    def __init__(self, path: Path, engine: EngineDeps, eid: str, changes: EnrollmentChanges) -> None:
        super().__init__("sms", path)
        self._patch: Callable[[], Enrollment] = lambda: update(engine, eid, changes)

    def send_many(self, messages: list[OutgoingMessage], *, now: datetime) -> list[SendResult | Exception]:
        self._patch()
        return super().send_many(messages, now=now)


def test_a_send_finishing_after_a_timezone_patch_leaves_the_next_message_in_the_new_zone(
    redis_url: str, tmp_path: Path
) -> None:
    """Hydration was triaged in New York; the PATCH to Los Angeles lands while it is being sent:
    the next due time (sleep) is Los Angeles's, in the enrollment and in the due index."""
    outbox = tmp_path / "outbox.jsonl"
    deps = make_deps(redis_url, outbox)
    clock = deps.engine.clock
    assert isinstance(clock, FixedClock)
    eid = sms_only(deps)
    clock.set(HYDRATION_DUE)
    channel = PatchingChannel(outbox, deps.engine, eid, TO_LA)
    patching = dataclasses.replace(deps, channels={**deps.channels, "sms": channel})
    dispatch_once(patching, send_inline(patching))
    expected = sleep_due(deps.engine.catalog.get("twitching"), LOS_ANGELES, deps)
    assert expected is not None
    stored = deps.engine.store.get_enrollment(eid)
    assert stored is not None and (stored.cursor["sms"], stored.timezone) == (2, "America/Los_Angeles")
    assert stored.next_due["sms"] == expected
    entry = due_entry(deps.engine.store, eid)
    assert entry is not None and entry <= epoch_ms(expected)  # an early entry is looked at again; never late
    run_until_idle(deps, until=datetime(2026, 3, 10, tzinfo=LOS_ANGELES))
    sleep = [m for m in outbox_lines(outbox) if m["step"] == "sleep"]
    assert sleep and sleep[0]["local_time"].startswith("2026-03-07T19:00"), sleep


def test_begin_send_refuses_a_channel_the_enrollment_no_longer_has(redis_url: str, tmp_path: Path) -> None:
    """Email is claimed and triaged; a PATCH drops it before "sending" is taken: nothing goes."""
    outbox = tmp_path / "outbox.jsonl"
    deps = make_deps(redis_url, outbox)
    eid = enroll(deps.engine, new_enrollment())[0].id
    dropped: list[bool] = []

    def clinic_then_patch(_cid: str) -> dict[str, str]:  # rendering runs between triage and begin_send
        if not dropped:
            update(deps.engine, eid, EnrollmentChanges(channels=("sms",)))
            dropped.append(True)
        return {"name": "Riverside Family Clinic"}

    racing = dataclasses.replace(deps, clinics=clinic_then_patch)
    handed: list[tuple[str, list[str]]] = []
    dispatch_once(racing, lambda ch, handles: handed.append((ch, handles)))
    counts = {ch: send_batch(racing, ch, handles).counts for ch, handles in handed if ch == "email"}
    assert counts == {"email": {"dropped": 1}}
    assert [m for m in outbox_lines(outbox) if m["channel"] == "email"] == []
    assert deps.engine.store.record(f"{eid}.welcome.email.1") is None
    begun = deps.engine.store.begin_send(f"{eid}.welcome.email.1", cursor=0, now=deps.engine.clock.now(), stale_s=60)
    assert begun.status is BeginStatus.DROPPED


def test_a_late_task_cannot_release_a_newer_claim(redis_url: str, tmp_path: Path) -> None:
    """Task 1 holds a claim; the entry is scheduled again (a PATCH, a resume) and claimed by task 2.
    Task 1 then finishes: the lease stays task 2's, and task 2's own release puts the entry at the
    enrollment's next due time."""
    deps = make_deps(redis_url, tmp_path / "outbox.jsonl")
    store = deps.engine.store
    enrollment = enroll(deps.engine, new_enrollment(channels=("sms",), email=None))[0]
    first = claims(deps)
    store.schedule_all(enrollment)  # due again while claimed
    second = claims(deps)
    assert store.in_flight("sms") == 1
    assert send_batch(deps, "sms", first).counts == {"sent": 1}
    assert store.in_flight("sms") == 1, "the late task released the newer claim"
    assert first != second  # each claim has its own token
    assert send_batch(deps, "sms", second).counts == {"deferred": 1}  # hydration is not due yet
    assert store.in_flight("sms") == 0
    assert due_entry(store, enrollment.id) == epoch_ms(HYDRATION_DUE)


def test_only_the_claim_holding_an_entry_releases_it(redis_url: str, tmp_path: Path) -> None:
    """At the store: a reaped lease, and one claimed again, answer a stale token's release with False
    and change nothing."""
    deps = make_deps(redis_url, tmp_path / "outbox.jsonl")
    store, now = deps.engine.store, deps.engine.clock.now()
    eid = enroll(deps.engine, new_enrollment(channels=("sms",), email=None))[0].id
    (stale,) = store.claim("sms", now, 10, lease_ms=0)  # a lease that has run out at once
    assert store.reap("sms", now) == 1  # back in the due index; the token goes with the lease
    (fresh,) = store.claim("sms", now, 10, lease_ms=60_000)
    assert stale.token != fresh.token
    batch = store.batch()
    late = batch.reschedule(eid, "sms", HYDRATION_DUE, token=stale.token)
    batch.run()
    assert late.value is False
    assert store.in_flight("sms") == 1 and due_entry(store, eid) is None
    batch = store.batch()
    own = batch.reschedule(eid, "sms", HYDRATION_DUE, token=fresh.token)
    batch.run()
    assert own.value is True
    assert store.redis.zscore(lease_key("sms"), eid) is None and due_entry(store, eid) == epoch_ms(HYDRATION_DUE)


def claims(deps: DeliveryDeps) -> list[str]:
    handed: list[tuple[str, list[str]]] = []
    dispatch_once(deps, lambda ch, handles: handed.append((ch, handles)))
    return [h for ch, handles in handed if ch == "sms" for h in handles]
