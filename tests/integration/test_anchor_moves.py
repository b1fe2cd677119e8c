"""A visit anchor moved forward and back by days across a DST change, for patients in several
zones, on a fixed clock driven through the days (real Redis, the real send path): every step of
every channel ends exactly once, `sent` or `skipped` (`late`) as the program's catch-up policy
says; never twice, never lost; the steps still to come land at their local time."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.support.engine import make_deps, new_enrollment, outbox_lines, run_until_idle
from worker.clock import FixedClock
from worker.delivery.types import DeliveryDeps
from worker.enrollment import EnrollmentChanges, enroll, pause, resume, update
from worker.programs import ProgramCatalog
from worker.records import EnrollmentState, MessageState

ROOT = Path(__file__).resolve().parents[2]
STEPS = ("welcome", "notes", "medicines-list", "after-visit")
# Each zone's DST change of 2026 (Asia/Kolkata has none: an ordinary day).
ZONES = {
    "America/New_York": date(2026, 11, 1),
    "Europe/Madrid": date(2026, 10, 25),
    "Australia/Sydney": date(2026, 4, 5),
    "Asia/Kolkata": date(2026, 3, 10),
}
# What each patient's steps end as, per policy ("S" sent, "k" skipped late), in STEPS order:
# a: visit moved 4 days later, then (notes sent) 6 days earlier: the medicines list is then past.
# b: visit moved 8 days earlier (notes and list past at once), then 3 days later across the change.
EXPECTED = {
    "all": {"a": "SSSS", "b": "SSSS"},
    "latest": {"a": "SSSS", "b": "SkSS"},
    "skip": {"a": "SSkS", "b": "SkkS"},
}

CODES = {MessageState.SENT: "S", MessageState.SKIPPED: "k"}


def local(zone: str, day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=ZoneInfo(zone))


def deps_with_policy(redis_url: str, tmp_path: Path, policy: str) -> DeliveryDeps:
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content" / "visit-prep", content / "visit-prep")
    path = content / "visit-prep" / "program.yaml"
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "catch_up": policy}))
    deps = make_deps(redis_url, tmp_path / "outbox.jsonl")
    return replace(deps, engine=replace(deps.engine, catalog=ProgramCatalog(content)))


def move(deps: DeliveryDeps, eid: str, visit: datetime) -> None:
    update(deps.engine, eid, EnrollmentChanges(anchors={"visit": visit}))


@pytest.mark.parametrize("policy", sorted(EXPECTED))
@pytest.mark.parametrize("zone", sorted(ZONES))
def test_moving_a_visit_across_dst_sends_each_step_once(redis_url: str, tmp_path: Path, zone: str, policy: str) -> None:
    deps = deps_with_policy(redis_url, tmp_path, policy)
    clock = deps.engine.clock
    assert isinstance(clock, FixedClock)
    x = ZONES[zone]
    visit = {"visit": local(zone, x + timedelta(days=2), 15)}  # notes x-1, list x+1, after x+7
    clock.set(local(zone, x - timedelta(days=12), 9))
    ids = {}
    for ref, language in (("a", "en"), ("b", "es")):
        e, created = enroll(
            deps.engine, new_enrollment(ref, program="visit-prep", timezone=zone, language=language, anchors=visit)
        )
        assert created and e.anchors == visit
        ids[ref] = e.id

    run_until_idle(deps, until=local(zone, x - timedelta(days=5), 0))
    clock.set(local(zone, x - timedelta(days=5), 0))
    move(deps, ids["a"], local(zone, x + timedelta(days=6), 15))  # later: notes x+3, list x+5, after x+11
    move(deps, ids["b"], local(zone, x - timedelta(days=6), 15))  # earlier: notes and list past, after x-1

    run_until_idle(deps, until=local(zone, x - timedelta(days=2), 12))
    clock.set(local(zone, x - timedelta(days=2), 12))
    move(deps, ids["b"], local(zone, x - timedelta(days=3), 15))  # later again: after x+2, past the change

    run_until_idle(deps, until=local(zone, x + timedelta(days=4), 12))
    clock.set(local(zone, x + timedelta(days=4), 12))
    move(deps, ids["a"], local(zone, x, 15))  # earlier: the list (x-1 18:00) is past, after x+5
    run_until_idle(deps)

    lines = outbox_lines(tmp_path / "outbox.jsonl")
    assert len({line["id"] for line in lines}) == len(lines)  # nothing handed over twice
    tz = ZoneInfo(zone)
    for ref, eid in ids.items():
        stored = deps.engine.store.get_enrollment(eid)
        assert stored is not None and stored.state is EnrollmentState.COMPLETED
        records = deps.engine.store.records(eid)
        assert Counter((r.step, r.channel, r.occurrence) for r in records) == Counter(
            (s, ch, 1) for s in STEPS for ch in ("sms", "email")
        )  # every step of every channel exactly once: none lost, none twice
        for channel in ("sms", "email"):
            by_step = {r.step: r for r in records if r.channel == channel}
            outcome = "".join(CODES.get(by_step[s].state, "?") for s in STEPS)
            assert outcome == EXPECTED[policy][ref], (ref, channel)
            assert all(r.reason == "late" for r in by_step.values() if r.state is MessageState.SKIPPED)
            sent = [line for line in lines if line["enrollment_id"] == eid and line["channel"] == channel]
            assert sorted(line["step"] for line in sent) == sorted(
                s for s in STEPS if by_step[s].state is MessageState.SENT
            )
        after = next(
            line
            for line in lines
            if line["enrollment_id"] == eid and line["step"] == "after-visit" and line["channel"] == "email"
        )
        landed = datetime.fromisoformat(after["local_time"]).astimezone(tz)
        assert (landed.date(), landed.time().replace(second=0, microsecond=0)) == (
            x + timedelta(days=5 if ref == "a" else 2),
            time(10, 0),
        )  # 10:00 local on the new date, whichever side of the DST change


@pytest.mark.parametrize(("policy", "expected"), [("all", "SSSS"), ("latest", "SkSS"), ("skip", "SkkS")])
def test_a_long_pause_ends_by_the_policy(redis_url: str, tmp_path: Path, policy: str, expected: str) -> None:
    """Paused before both reminders, resumed after them: they are late, and the policy decides."""
    deps = deps_with_policy(redis_url, tmp_path, policy)
    clock = deps.engine.clock
    assert isinstance(clock, FixedClock)
    zone = "Europe/Madrid"
    clock.set(local(zone, date(2026, 10, 10), 9))
    visit = {"visit": local(zone, date(2026, 10, 26), 15)}  # notes 23 Oct, list 25 Oct (DST change), after 31 Oct
    e, _ = enroll(deps.engine, new_enrollment("p", program="visit-prep", timezone=zone, anchors=visit))
    run_until_idle(deps, until=local(zone, date(2026, 10, 20), 9))
    pause(deps.engine, e.id)
    clock.set(local(zone, date(2026, 10, 26), 9))
    run_until_idle(deps, until=clock.now())
    resume(deps.engine, e.id)
    run_until_idle(deps)
    records = deps.engine.store.records(e.id)
    for channel in ("sms", "email"):
        by_step = {r.step: r for r in records if r.channel == channel and r.occurrence == 1}
        assert "".join(CODES.get(by_step[s].state, "?") for s in STEPS) == expected
        assert all(r.reason == "late" for r in by_step.values() if r.state is MessageState.SKIPPED)
    lines = outbox_lines(tmp_path / "outbox.jsonl")
    assert len(lines) == len({line["id"] for line in lines}) == expected.count("S") * 2


def test_enrolled_after_the_visit_skips_what_is_past(redis_url: str, tmp_path: Path) -> None:
    """An anchor already past at enrollment (skip): the welcome still introduces the program, the
    reminders before the visit are skipped, the check-in after it goes at 10:00 local."""
    deps = deps_with_policy(redis_url, tmp_path, "skip")
    clock = deps.engine.clock
    assert isinstance(clock, FixedClock)
    zone = "Australia/Sydney"
    clock.set(local(zone, date(2026, 4, 6), 12))
    visit = {"visit": local(zone, date(2026, 4, 4), 15)}  # after: 9 April 10:00, past the 5 April change
    e, _ = enroll(
        deps.engine, new_enrollment("p", program="visit-prep", timezone=zone, channels=("sms",), anchors=visit)
    )
    run_until_idle(deps)
    by_step = {r.step: r for r in deps.engine.store.records(e.id)}
    assert "".join(CODES.get(by_step[s].state, "?") for s in STEPS) == "SkkS"
    [after] = [line for line in outbox_lines(tmp_path / "outbox.jsonl") if line["step"] == "after-visit"]
    assert after["local_time"].startswith("2026-04-09T10:00") and after["local_time"].endswith("+10:00")
