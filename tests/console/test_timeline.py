"""The timeline's rows and rules, from a real enrollment run through the engine on a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.support.engine import make_deps, new_enrollment, run_until_idle
from worker.console.timeline import UPCOMING, timeline
from worker.enrollment import enroll, pause
from worker.records import MessageState


def test_a_message_moved_by_quiet_hours_then_sent_and_the_rest_to_come(redis_url: str, tmp_path: Path) -> None:
    deps = make_deps(redis_url, tmp_path / "outbox.jsonl")
    engine = deps.engine
    # Enrolled at 15:00 UTC = midnight in Tokyo: the welcome (due at once) waits for 08:00 there.
    enrollment, _ = enroll(engine, new_enrollment(timezone="Asia/Tokyo", channels=("sms",), email=None))
    run_until_idle(deps, until=datetime(2026, 3, 3, 0, 0, tzinfo=UTC))  # 09:00 Tuesday in Tokyo
    stored = engine.store.get_enrollment(enrollment.id)
    assert stored is not None
    program = engine.catalog.get("twitching")
    rows = timeline(stored, program, engine.store.records(enrollment.id), engine.quiet)

    welcome = rows[0]
    assert (welcome.step, welcome.state) == ("welcome", MessageState.SENT.value)
    assert welcome.at == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 08:00 Tuesday in Tokyo
    assert welcome.rule == "Quiet hours (21:00–08:00 patient time): moved from Tue 00:00 to Tue 08:00"
    assert welcome.message_id == f"{enrollment.id}.welcome.sms.1"
    upcoming = rows[1:]
    assert upcoming and all(r.state == UPCOMING for r in upcoming)
    assert [r.step for r in upcoming] == [s.id for s in program.steps_for("sms")][1:]
    assert all(r.due is not None and r.due > welcome.at for r in upcoming)

    pause(engine, enrollment.id)
    paused = engine.store.get_enrollment(enrollment.id)
    assert paused is not None
    rows = timeline(paused, program, engine.store.records(enrollment.id), engine.quiet)
    assert all("Paused: waits until the enrollment is resumed" in r.rule for r in rows if r.state == UPCOMING)
