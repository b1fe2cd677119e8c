"""The engine on a real Redis, driven through virtual weeks with a fixed clock (no Celery here)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.support.engine import make_deps, new_enrollment, outbox_lines, run_until_idle
from worker.enrollment import cancel, enroll, pause, resume
from worker.programs import load_program
from worker.records import EnrollmentState, MessageState
from worker.store.codec import cursor_field, due_field
from worker.store.keys import due_key, enrollment_key

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = load_program(ROOT / "content", "twitching")
NY = ZoneInfo("America/New_York")


def _quiet(local: datetime) -> bool:
    return local.time() >= time(21, 0) or local.time() < time(8, 0)


def test_every_step_once_in_order_at_local_time(redis_url: str, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    deps = make_deps(redis_url, outbox)
    enrollment, created = enroll(deps.engine, new_enrollment())
    assert created
    run_until_idle(deps)
    lines = outbox_lines(outbox)
    for channel in ("sms", "email"):
        sent = [line for line in lines if line["channel"] == channel]
        assert [line["step"] for line in sent] == [s.id for s in PROGRAM.steps_for(channel)]
        assert len({line["id"] for line in sent}) == len(sent)
        for line, step in zip(sent, PROGRAM.steps_for(channel), strict=True):
            local = datetime.fromisoformat(line["local_time"])
            assert not _quiet(local), line["local_time"]
            if step.at is not None:
                assert local.time().replace(second=0, microsecond=0) == step.at
    stored = deps.engine.store.get_enrollment(enrollment.id)
    assert stored is not None and stored.state is EnrollmentState.COMPLETED
    records = deps.engine.store.records(enrollment.id)
    assert len(records) == len(lines) and all(r.state is MessageState.SENT for r in records)


def test_late_evening_enrollment_waits_for_morning(redis_url: str, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    deps = make_deps(redis_url, outbox)
    deps.engine.clock.set(datetime(2026, 3, 2, 22, 30, tzinfo=NY))  # type: ignore[attr-defined]
    enroll(deps.engine, new_enrollment())
    run_until_idle(deps, until=datetime(2026, 3, 3, 12, 0, tzinfo=NY))
    welcome = [line for line in outbox_lines(outbox) if line["step"] == "welcome"]
    assert {w["local_time"][:16] for w in welcome} == {"2026-03-03T08:00"}


def test_same_enrollment_event_creates_nothing_new(redis_url: str, tmp_path: Path) -> None:
    deps = make_deps(redis_url, tmp_path / "outbox.jsonl")
    first, created = enroll(deps.engine, new_enrollment())
    again, created_again = enroll(deps.engine, new_enrollment(first_name="Changed"))
    assert created and not created_again
    assert again.id == first.id and again.first_name == "Ana"
    assert deps.engine.store.redis.zcard(due_key("sms")) == 1


def test_pause_cancel_and_stop_hold_claimed_messages(redis_url: str, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    deps = make_deps(redis_url, outbox)
    paused, _ = enroll(deps.engine, new_enrollment("p-pause"))
    canceled, _ = enroll(deps.engine, new_enrollment("p-cancel"))
    stopped, _ = enroll(deps.engine, new_enrollment("p-stop", phone="+14155550199", channels=("sms",)))
    from worker.delivery.dispatch import dispatch_once
    from worker.delivery.send import send_batch

    batches: list[tuple[str, list[str]]] = []
    dispatch_once(deps, lambda ch, ids: batches.append((ch, ids)))
    assert sum(len(ids) for _, ids in batches) == 5  # claimed and queued, not yet sent
    pause(deps.engine, paused.id)
    cancel(deps.engine, canceled.id)
    deps.engine.store.opt_out_sms("+14155550199", deps.engine.clock.now())
    for channel, ids in batches:
        send_batch(deps, channel, ids)
    assert outbox_lines(outbox) == []
    assert [r.state for r in deps.engine.store.records(stopped.id)] == [MessageState.SKIPPED]
    resume(deps.engine, paused.id)
    run_until_idle(deps, until=deps.engine.clock.now() + timedelta(hours=1))
    assert {line["enrollment_id"] for line in outbox_lines(outbox)} == {paused.id}


def test_backlog_after_clock_jump_respects_caps_and_quiet_hours(redis_url: str, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    deps = make_deps(redis_url, outbox)
    enroll(deps.engine, new_enrollment())
    deps.engine.clock.advance(timedelta(days=9))  # type: ignore[attr-defined]
    run_until_idle(deps)
    sms = [datetime.fromisoformat(line["local_time"]) for line in outbox_lines(outbox) if line["channel"] == "sms"]
    assert len(sms) == len(PROGRAM.steps_for("sms"))
    days = [s.date() for s in sms]
    assert len(days) == len(set(days)), "at most one SMS a local day"
    assert not any(_quiet(s) for s in sms)
    utc = sorted(s.astimezone(UTC) for s in sms)
    assert all(utc[i + 3] - utc[i] >= timedelta(days=7) for i in range(len(utc) - 3)), "3 a week"


def test_a_cursor_left_behind_a_sent_step_is_moved_on_without_a_resend(redis_url: str, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    deps = make_deps(redis_url, outbox)
    enrollment, _ = enroll(deps.engine, new_enrollment(channels=("sms",), email=None))
    run_until_idle(deps, until=deps.engine.clock.now())
    store = deps.engine.store
    # As if a record was written but the cursor move was lost: back to step 0, due now.
    now_ms = int(deps.engine.clock.now().timestamp() * 1000)
    store.redis.hset(enrollment_key(enrollment.id), mapping={cursor_field("sms"): "0", due_field("sms"): str(now_ms)})
    store.redis.zadd(due_key("sms"), {enrollment.id: now_ms})
    run_until_idle(deps)
    steps = [line["step"] for line in outbox_lines(outbox)]
    assert steps == [s.id for s in PROGRAM.steps_for("sms")], "welcome not sent twice, the rest still sent"


def test_patch_timezone_moves_the_next_message_to_the_new_local_time(redis_url: str, tmp_path: Path) -> None:
    from worker.enrollment import EnrollmentChanges, update

    outbox = tmp_path / "outbox.jsonl"
    deps = make_deps(redis_url, outbox)
    enrollment, _ = enroll(deps.engine, new_enrollment(channels=("sms",), email=None))
    run_until_idle(deps, until=deps.engine.clock.now())
    update(deps.engine, enrollment.id, EnrollmentChanges(timezone="Europe/London"))
    run_until_idle(deps, until=deps.engine.clock.now() + timedelta(days=4))
    hydration = [line for line in outbox_lines(outbox) if line["step"] == "hydration"]
    assert len(hydration) == 1
    local = datetime.fromisoformat(hydration[0]["local_time"])
    assert local.utcoffset() == timedelta(0) and local.time() == time(10, 0)


def test_operator_resend_of_an_unknown_message_sends_a_new_occurrence_once(redis_url: str, tmp_path: Path) -> None:
    from worker.delivery.resend import resend
    from worker.store import UNKNOWN_INDEX

    outbox = tmp_path / "outbox.jsonl"
    deps = make_deps(redis_url, outbox, lease_seconds=60)
    enrollment, _ = enroll(deps.engine, new_enrollment(channels=("sms",), email=None))
    store, clock = deps.engine.store, deps.engine.clock
    # A send interrupted after taking "sending": the record is left behind, the lease runs out.
    store.begin_send(f"{enrollment.id}.welcome.sms.1", cursor=0, now=clock.now(), stale_s=60)
    clock.advance(timedelta(minutes=2))  # type: ignore[attr-defined]
    run_until_idle(deps, until=clock.now())
    mid = f"{enrollment.id}.welcome.sms.1"
    assert store.record(mid).state is MessageState.UNKNOWN  # type: ignore[union-attr]
    assert outbox_lines(outbox) == [] and store.indexed_messages(UNKNOWN_INDEX) == [mid]

    # The unknown message may have reached the number, so it counts toward today's cap (issue 13
    # item 3: resends count toward the caps): the resend goes the next morning.
    clock.set(datetime(2026, 3, 3, 8, 0, tzinfo=NY))  # type: ignore[attr-defined]
    assert resend(deps, mid) == f"sent {enrollment.id}.welcome.sms.2"
    assert [line["id"] for line in outbox_lines(outbox)] == [f"{enrollment.id}.welcome.sms.2"]
    assert store.record(mid).state is MessageState.UNKNOWN  # type: ignore[union-attr]  # kept as it was
    assert store.indexed_messages(UNKNOWN_INDEX) == []
    assert resend(deps, f"{enrollment.id}.welcome.sms.2").startswith("not resendable")

    assert resend(deps, mid) == f"not resendable: already resent as {enrollment.id}.welcome.sms.2 (sent)"

    other, _ = enroll(deps.engine, new_enrollment("p-night", channels=("sms",), email=None, phone="+14155552672"))
    night_mid = f"{other.id}.welcome.sms.1"
    store.begin_send(night_mid, cursor=0, now=clock.now(), stale_s=60)
    clock.advance(timedelta(minutes=2))  # type: ignore[attr-defined]
    run_until_idle(deps, until=clock.now())
    clock.set(datetime(2026, 3, 3, 23, 30, tzinfo=NY))  # type: ignore[attr-defined]
    assert resend(deps, night_mid).startswith("not sent: quiet hours")
    assert len(outbox_lines(outbox)) == 1
