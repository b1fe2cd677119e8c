"""The audit trail against a real Redis (issue 14): ids in time order on the caredrip clock, exact
trimming to the retention period, one hash slot for both streams, no PHI let in, and an
operator's resend recorded (a refused one not)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import pytest
from redis.crc import key_slot

from tests.support.engine import make_deps, new_enrollment, run_until_idle
from worker import audit
from worker.audit import OPERATOR, Action, Trail
from worker.clock import FixedClock
from worker.delivery.resend import resend
from worker.enrollment import enroll
from worker.store import Store
from worker.store.audit import ACTIONS
from worker.store.keys import AUDIT, audit_clinic_key

NY = ZoneInfo("America/New_York")
START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def trail(redis_url: str, tmp_path: Path) -> Trail:
    engine = make_deps(redis_url, tmp_path / "outbox.jsonl").engine
    assert isinstance(engine.clock, FixedClock)
    return Trail(engine.clock, engine.store, retention_days=10)


def test_ids_follow_the_clock_even_within_one_ms_or_when_a_clock_is_behind(trail: Trail) -> None:
    clock = trail.clock
    assert isinstance(clock, FixedClock)
    first = audit.record(trail, "system", Action.PAUSE, enrollment_id="e1", clinic_id="c_1")
    second = audit.record(trail, "system", Action.RESUME, enrollment_id="e1", clinic_id="c_1")
    clock.advance(timedelta(seconds=-30))  # another process's clock, behind
    third = audit.record(trail, "system", Action.CANCEL, enrollment_id="e1", clinic_id="c_2")
    ms = int(START.timestamp() * 1000)
    assert (first, second, third) == (f"{ms}-0", f"{ms}-1", f"{ms}-2")
    entries = audit.entries(trail)
    assert [(e.id, e.action, e.at) for e in entries] == [
        (third, "cancel", START - timedelta(seconds=30)), (second, "resume", START), (first, "pause", START)
    ]  # fmt: skip
    assert [e.id for e in audit.page(trail, "c_1").entries] == [second, first]
    assert [e.id for e in audit.page(trail, "c_2").entries] == [third]
    assert key_slot(AUDIT.encode()) == key_slot(audit_clinic_key("c_1").encode())  # one script, one slot


def test_an_entry_goes_once_it_is_older_than_the_retention_period(trail: Trail) -> None:
    clock = trail.clock
    assert isinstance(clock, FixedClock)
    audit.record(trail, OPERATOR, Action.KEY_ADD, clinic_id="c_1", detail={"key_id": "k_1"})
    clock.advance(timedelta(days=10))
    audit.record(trail, OPERATOR, Action.KEY_ADD, clinic_id="c_1", detail={"key_id": "k_2"})
    assert [e.detail for e in audit.entries(trail)] == [{"key_id": "k_2"}, {"key_id": "k_1"}]  # exactly 10 days
    clock.advance(timedelta(milliseconds=1))
    audit.record(trail, OPERATOR, Action.KEY_REVOKE, clinic_id="c_2", detail={"key_id": "k_9"})
    assert [e.detail["key_id"] for e in audit.entries(trail)] == ["k_9", "k_2"]
    assert [e.detail["key_id"] for e in audit.page(trail, "c_1").entries] == ["k_2"]
    assert len(trail.store.audit_index("c_1")) == 2  # the clinic's index is trimmed at its next append
    clock.advance(timedelta(days=11))
    audit.record(trail, OPERATOR, Action.KEY_ADD, clinic_id="c_1", detail={"key_id": "k_3"})
    assert [e.detail["key_id"] for e in audit.page(trail, "c_1").entries] == ["k_3"]
    assert len(trail.store.audit_index("c_1")) == 1
    ttl_ms = trail.store.redis.pttl(audit_clinic_key("c_2"))
    assert 0 < ttl_ms <= 10 * 86400 * 1000  # a clinic's index written no more expires by itself


def test_detail_takes_names_ids_and_counts_only(trail: Trail) -> None:
    with pytest.raises(TypeError):
        audit.record(trail, OPERATOR, Action.UPDATE, detail={"fields": {"first_name": "Ana"}})  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        audit.record(trail, OPERATOR, Action.UPDATE, detail={"fields": ["x" * 600]})
    assert audit.entries(trail) == []
    assert not trail.store.redis.exists(AUDIT)


def test_an_operator_resend_is_recorded_and_a_refused_one_is_not(redis_url: str, tmp_path: Path) -> None:
    deps = make_deps(redis_url, tmp_path / "outbox.jsonl", lease_seconds=60)
    store, clock = deps.engine.store, deps.engine.clock
    assert isinstance(clock, FixedClock) and isinstance(store, Store)
    enrollment, _ = enroll(deps.engine, new_enrollment(channels=("sms",), email=None), actor=OPERATOR)
    mid = f"{enrollment.id}.welcome.sms.1"
    store.begin_send(mid, cursor=0, now=clock.now(), stale_s=60)  # a send interrupted: unknown once reaped
    clock.advance(timedelta(minutes=2))
    run_until_idle(deps, until=clock.now())
    assert resend(deps, mid, actor=OPERATOR).startswith("not sent: the number's caps")  # refused: no entry
    clock.set(datetime(2026, 3, 3, 8, 0, tzinfo=NY))
    assert resend(deps, mid, actor=OPERATOR) == f"sent {enrollment.id}.welcome.sms.2"
    assert resend(deps, mid, actor=OPERATOR).startswith("not resendable")
    entries = audit.entries(deps.engine, enrollment_id=enrollment.id)
    assert [(e.action, e.actor) for e in entries] == [("resend", OPERATOR), ("enroll", OPERATOR)]
    assert entries[0].detail == {"message_id": mid, "new_message_id": f"{enrollment.id}.welcome.sms.2", "state": "sent"}
    assert entries[0].clinic_id == enrollment.clinic_id


def test_a_clinic_index_ahead_of_the_trail_still_gets_one_id_later_than_both(trail: Trail) -> None:
    clock = trail.clock
    assert isinstance(clock, FixedClock)
    first = audit.record(trail, "system", Action.PAUSE, enrollment_id="e1", clinic_id="c_1")
    trail.store.redis.delete(AUDIT)  # the trail gone (flushed by hand), the clinic's index kept
    clock.advance(timedelta(seconds=-30))  # and a clock behind: `<ms>-*` is refused by the index
    second = audit.record(trail, "system", Action.RESUME, enrollment_id="e1", clinic_id="c_1")
    ms = int(START.timestamp() * 1000)
    assert (first, second) == (f"{ms}-0", f"{ms}-1")
    assert [(e.id, e.action, e.at) for e in audit.entries(trail)] == [(second, "resume", START - timedelta(seconds=30))]
    assert [e.id for e in audit.page(trail, "c_1").entries] == [second]  # the first entry went with the trail
    assert [i for i, _ in trail.store.audit_index("c_1")] == [second, first]


def test_an_entry_is_stored_short_and_read_back_whole_and_older_entries_read_as_they_are(trail: Trail) -> None:
    redis = trail.store.redis
    ms = int(START.timestamp() * 1000)
    redis.xadd(AUDIT, {"a": "clinic:c_1 key:k_old", "o": "pause", "e": "e0", "c": "c_1", "d": ""}, id=f"{ms - 5}-0")
    audit.record(trail, audit.clinic_actor("c_1", "k_abc"), Action.ENROLL, enrollment_id="e1", clinic_id="c_1")
    audit.record(trail, audit.intake_actor("c_1"), Action.CANCEL, enrollment_id="e1", clinic_id="c_1")
    audit.record(trail, "clinic:c_2 key:k_x", Action.KEYS_ROTATE, clinic_id="c_1")  # another clinic's actor: as is
    audit.record(trail, OPERATOR, "some_future_action", clinic_id="c_1")  # no code: its name
    raw = cast(list[tuple[str, dict[str, str]]], redis.xrange(AUDIT))
    stored = [(f["a"], f["o"]) for _, f in raw]
    assert stored == [("clinic:c_1 key:k_old", "pause"), ("~key:k_abc", "0"), ("~via intake", "4"),
                      ("clinic:c_2 key:k_x", "11"), (OPERATOR, "some_future_action")]  # fmt: skip
    assert [(e.actor, e.action) for e in reversed(audit.page(trail, "c_1").entries)] == [
        ("clinic:c_1 key:k_abc", "enroll"), ("clinic:c_1 via intake", "cancel"), ("clinic:c_2 key:k_x", "keys_rotate"),
        (OPERATOR, "some_future_action")
    ]  # fmt: skip
    assert [(e.actor, e.action) for e in audit.entries(trail)][-1] == ("clinic:c_1 key:k_old", "pause")


def test_every_action_has_a_stored_code() -> None:
    assert len(set(ACTIONS)) == len(ACTIONS) and {str(a) for a in Action} <= set(ACTIONS)
