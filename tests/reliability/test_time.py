"""Time: the clock jumping a day ahead mid-program (the backlog drains without breaking quiet
hours or caps), and DST transitions in three hemispheres' zones (every step at its local time)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support.engine import ROOT, make_deps, new_enrollment, outbox_lines, run_until_idle
from worker.clock import FixedClock
from worker.enrollment import enroll
from worker.programs import load_program

PROGRAM = load_program(ROOT / "content", "twitching")
ZONES = ["America/New_York", "Europe/London", "Australia/Sydney", "America/Los_Angeles", "Asia/Kolkata"]


def _quiet(local: datetime) -> bool:
    return local.time() >= time(21, 0) or local.time() < time(8, 0)


def test_clock_jumps_a_day_twice_backlog_respects_quiet_hours_and_caps(redis_url: str, tmp_path: Path) -> None:
    """Five patients in five zones, mid-program, and the clock jumps 24 h ahead twice with nothing
    dispatched in between: every step is still sent exactly once per channel, no SMS in quiet
    hours, at most 1 SMS a local day and 3 in any 7 x 24 h."""
    outbox = tmp_path / "outbox.jsonl"
    deps = make_deps(redis_url, outbox)
    clock = deps.engine.clock
    assert isinstance(clock, FixedClock)
    eids = {enroll(deps.engine, new_enrollment(f"z-{i}", timezone=tz, phone=f"+1415555{i:04d}"))[0].id: tz
            for i, tz in enumerate(ZONES)}
    start = clock.now()
    # Each skipped day holds a step for every zone ("sleep" on day 5, "stress" on day 8), and the
    # jumps land in quiet hours for some zones and not others.
    for stop_after in (timedelta(days=4, hours=15), timedelta(days=7, hours=9)):
        run_until_idle(deps, until=start + stop_after)
        clock.set(start + stop_after + timedelta(days=1))  # a day passes with no dispatch at all
    run_until_idle(deps)
    lines = outbox_lines(outbox)
    late = [x for x in lines if datetime.fromisoformat(x["sent_at"]) - datetime.fromisoformat(x["due_at"])
            > timedelta(hours=1)]
    assert late, "the jumps created no backlog"
    for eid, tz in eids.items():
        for channel in ("sms", "email"):
            sent = [x for x in lines if x["enrollment_id"] == eid and x["channel"] == channel]
            assert [x["step"] for x in sent] == [s.id for s in PROGRAM.steps_for(channel)], (tz, channel)
        sms = sorted(datetime.fromisoformat(x["sent_at"]) for x in lines
                     if x["enrollment_id"] == eid and x["channel"] == "sms")
        local = [s.astimezone(ZoneInfo(tz)) for s in sms]
        assert not [t for t in local if _quiet(t)], (tz, local)
        assert max(Counter(t.date() for t in local).values()) == 1, f"2 SMS a local day in {tz}"
        assert all(sms[i + 3] - sms[i] >= timedelta(days=7) for i in range(len(sms) - 3)), f"4 SMS a week in {tz}"
    print(f"\nRELIABILITY clock jumps: {len(lines)} messages, {len(late)} sent late from the backlog, caps held")


DST = [
    ("America/New_York", date(2026, 3, 8)), ("America/New_York", date(2026, 11, 1)),
    ("Europe/London", date(2026, 3, 29)), ("Europe/London", date(2026, 10, 25)),
    ("Australia/Sydney", date(2026, 4, 5)), ("Australia/Sydney", date(2026, 10, 4)),
]


@pytest.mark.parametrize(("zone", "transition"), DST, ids=[f"{z}-{d}" for z, d in DST])
def test_dst_transition_every_step_at_its_local_time_once(redis_url: str, tmp_path: Path, zone: str,
                                                          transition: date) -> None:
    """A patient enrolled 3 days before a DST change gets every step once per channel, each dated
    step at its program local time (step.at) on both sides of the change."""
    outbox = tmp_path / "outbox.jsonl"
    tz = ZoneInfo(zone)
    enrolled_at = datetime.combine(transition - timedelta(days=3), time(9, 0), tz).astimezone(UTC)
    deps = make_deps(redis_url, outbox, clock=FixedClock(enrolled_at))
    eid = enroll(deps.engine, new_enrollment("dst", timezone=zone))[0].id
    run_until_idle(deps)
    lines = [x for x in outbox_lines(outbox) if x["enrollment_id"] == eid]
    offsets = {datetime.fromisoformat(x["local_time"]).utcoffset() for x in lines}
    assert len(offsets) == 2, "the program did not cross the transition"
    for channel in ("sms", "email"):
        sent = [x for x in lines if x["channel"] == channel]
        steps = PROGRAM.steps_for(channel)
        assert [x["step"] for x in sent] == [s.id for s in steps]
        for line, step in zip(sent, steps, strict=True):
            local = datetime.fromisoformat(line["local_time"])
            assert local.utcoffset() == local.astimezone(tz).utcoffset(), "local_time in the patient's zone"
            expected = step.at or time(9, 0)
            assert local.time().replace(second=0, microsecond=0) == expected, (step.id, line["local_time"])
