"""The clinic's enrollment index (clinic_index.lua): buckets of packed records in one hash, paged
newest first exactly as the sorted set of before, each id once at its first time, late arrivals in
their place, forgetting, the sorted set of before converted in place, and ~30 B an entry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.engine import make_deps, new_enrollment
from worker.bulk_intake import Source, bulk_enroll
from worker.bulk_rows import read_rows
from worker.clock import FixedClock
from worker.delivery.types import DeliveryDeps
from worker.enrollment import build_enrollment, enroll
from worker.records import Enrollment, epoch_ms
from worker.store import clinic_enrollments
from worker.store.keys import clinic_enrollments_key

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
RETENTION_S = 400 * 86400


def _deps(redis_url: str, tmp_path: Path) -> tuple[DeliveryDeps, FixedClock]:
    clock = FixedClock(T0)
    return make_deps(redis_url, tmp_path / "outbox.jsonl", clock=clock), clock


def _made(
    deps: DeliveryDeps, clock: FixedClock, n: int, clinic: str = "c_a", step_s: float = 1, prefix: str = "r"
) -> list[Enrollment]:
    made = []
    for i in range(n):
        made.append(enroll(deps.engine, new_enrollment(f"{prefix}-{clinic}-{i}", clinic_id=clinic, phone=None,
                                                       channels=("email",)))[0])  # fmt: skip
        clock.advance(timedelta(seconds=step_s))
    return made


def _all(deps: DeliveryDeps, clinic: str) -> list[tuple[str, int]]:
    return clinic_enrollments.listed(deps.engine.store.redis.hgetall(clinic_enrollments_key(clinic)))


def test_pages_newest_first_across_buckets_with_the_total(redis_url: str, tmp_path: Path) -> None:
    deps, clock = _deps(redis_url, tmp_path)
    made = _made(deps, clock, 300)
    other = _made(deps, clock, 3, clinic="c_b")
    store = deps.engine.store
    newest_first = [e.id for e in reversed(made)]
    for offset, count in ((0, 50), (40, 50), (63, 2), (64, 64), (100, 50), (290, 50), (300, 50), (1000, 5)):
        assert store.clinic_enrollments("c_a", offset, count) == (newest_first[offset : offset + count], 300)
    assert store.clinic_enrollments("c_b", 0, 50) == ([e.id for e in reversed(other)], 3)  # each clinic its own
    assert _all(deps, "c_a") == [(e.id, epoch_ms(e.created_at)) for e in made]
    raw = store.redis.hgetall(clinic_enrollments_key("c_a"))
    assert raw["t"] == "4" and all(len(raw[str(b)]) == 64 * 29 for b in range(4))  # full buckets, then the top
    assert 0 < store.redis.ttl(clinic_enrollments_key("c_a")) <= RETENTION_S


def test_a_repeat_keeps_one_record_at_its_first_time(redis_url: str, tmp_path: Path) -> None:
    deps, clock = _deps(redis_url, tmp_path)
    made = _made(deps, clock, 70)
    clock.advance(timedelta(hours=1))
    again, created = enroll(deps.engine, new_enrollment("r-c_a-3", clinic_id="c_a", phone=None, channels=("email",)))
    assert not created and again.id == made[3].id
    assert _all(deps, "c_a") == [(e.id, epoch_ms(e.created_at)) for e in made]
    assert deps.engine.store.clinic_enrollments("c_a", 0, 1) == ([made[-1].id], 70)

    header = "patient_ref,program,first_name,phone,channels,timezone,consent_sms,consent_recorded_at"
    rows = [f"MRN-{n},twitching,Ana,+1415555{2600 + n},sms,America/Chicago,true,2026-01-01T00:00:00Z" for n in range(3)]
    text = "\n".join([header, *rows]) + "\n"
    assert bulk_enroll(deps.engine, read_rows(text, "csv")[1], Source("c_a")).created == 3
    clock.advance(timedelta(hours=1))
    assert bulk_enroll(deps.engine, read_rows(text, "csv")[1], Source("c_a")).created == 0
    assert len(_all(deps, "c_a")) == 73 and deps.engine.store.clinic_enrollments("c_a", 0, 100)[1] == 73


def test_a_repeat_racing_the_create_never_takes_the_creators_record(redis_url: str, tmp_path: Path) -> None:
    """The repeat's record lands first, in the same bucket; its take-back removes its own only."""
    deps, _ = _deps(redis_url, tmp_path)
    store = deps.engine.store
    first = _enrollment(deps, "x", T0)
    repeat = replace(first, created_at=T0 + timedelta(milliseconds=5))
    ops = clinic_enrollments.add
    listed = store._runner.run([*ops(repeat, RETENTION_S), *ops(first, RETENTION_S)])
    store._runner.run(clinic_enrollments.withdraw(repeat, int(listed[0])).ops)
    assert _all(deps, "c_a") == [(first.id, epoch_ms(T0))]
    assert store.clinic_enrollments("c_a", 0, 10) == ([first.id], 1)


def _enrollment(deps: DeliveryDeps, ref: str, at: datetime) -> Enrollment:
    return build_enrollment(deps.engine, new_enrollment(ref, clinic_id="c_a", phone=None, channels=("email",)), at)


def test_a_late_arrival_goes_where_it_sorts(redis_url: str, tmp_path: Path) -> None:
    deps, clock = _deps(redis_url, tmp_path)
    made = _made(deps, clock, 200, step_s=10)
    store = deps.engine.store
    late = [_enrollment(deps, f"late-{i}", T0 + timedelta(seconds=10 * i + 5)) for i in (0, 70, 150, 199, 250)]
    store._runner.run([op for e in late for op in clinic_enrollments.add(e, RETENTION_S)])
    everything = sorted([*made, *late], key=lambda e: (epoch_ms(e.created_at), e.id))
    assert _all(deps, "c_a") == [(e.id, epoch_ms(e.created_at)) for e in everything]
    ids = [e.id for e in reversed(everything)]
    assert store.clinic_enrollments("c_a", 60, 80) == (ids[60:140], 205)


def test_forget_drops_ids_in_any_bucket_and_the_key_with_the_last(redis_url: str, tmp_path: Path) -> None:
    deps, clock = _deps(redis_url, tmp_path)
    made = _made(deps, clock, 150)
    store = deps.engine.store
    gone = [made[0], made[64], made[100], made[149]]
    store.forget_clinic_enrollments("c_a", [e.id for e in gone])
    kept = [e for e in made if e not in gone]
    assert store.clinic_enrollments("c_a", 0, 200) == ([e.id for e in reversed(kept)], 146)
    made += _made(deps, clock, 2, prefix="new")  # adds still land after the top
    assert store.clinic_enrollments("c_a", 0, 2)[0] == [made[-1].id, made[-2].id]
    store.forget_clinic_enrollments("c_a", [e.id for e in made])
    assert not store.redis.exists(clinic_enrollments_key("c_a"))
    assert store.clinic_enrollments("c_a", 0, 50) == ([], 0)


def test_the_sorted_set_of_before_is_converted_in_place(redis_url: str, tmp_path: Path) -> None:
    deps, _ = _deps(redis_url, tmp_path)
    store, key = deps.engine.store, clinic_enrollments_key("c_a")
    old = [_enrollment(deps, f"o-{i}", T0 + timedelta(seconds=i)) for i in range(130)]
    store.redis.zadd(key, {e.id: epoch_ms(e.created_at) for e in old})
    store.redis.expire(key, 1000)
    assert store.clinic_enrollments("c_a", 0, 3) == ([e.id for e in old[:-4:-1]], 130)
    assert store.redis.type(key) == "hash" and 0 < store.redis.ttl(key) <= 1000
    assert _all(deps, "c_a") == [(e.id, epoch_ms(e.created_at)) for e in old]


def test_a_create_meeting_the_sorted_set_of_before_converts_it_and_lists_itself_last(
    redis_url: str, tmp_path: Path
) -> None:
    """`add` reads the top bucket without asking the key's type; a sorted set makes it convert."""
    deps, _ = _deps(redis_url, tmp_path)
    store, key = deps.engine.store, clinic_enrollments_key("c_a")
    old = [_enrollment(deps, f"o-{i}", T0 + timedelta(seconds=i)) for i in range(70)]
    store.redis.zadd(key, {e.id: epoch_ms(e.created_at) for e in old})
    new = _enrollment(deps, "n-0", T0 + timedelta(seconds=100))
    assert store._runner.run(clinic_enrollments.add(new, RETENTION_S)) == [1]  # bucket 0 full: the next
    assert store.redis.type(key) == "hash"
    assert _all(deps, "c_a") == [(e.id, epoch_ms(e.created_at)) for e in [*old, new]]


def test_an_entry_costs_about_thirty_bytes(redis_url: str, tmp_path: Path) -> None:
    deps, _ = _deps(redis_url, tmp_path)
    store = deps.engine.store
    many = [_enrollment(deps, f"m-{i}", T0 + timedelta(seconds=i)) for i in range(5000)]
    store._runner.run([op for e in many for op in clinic_enrollments.add(e, RETENTION_S)])
    size = int(store.redis.memory_usage(clinic_enrollments_key("c_a"), samples=0) or 0)
    assert size / 5000 < 40, size / 5000
