"""Time math as tables, like arq's test_cron: (zone, input, expected) rows, no Redis, no clock."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from worker.policy import Caps, QuietHours
from worker.programs import Program, Step
from worker.schedule import (
    cap_hit,
    defer_caps,
    defer_quiet,
    first_cursor_after,
    next_allowed,
    nominal_due,
    plan_channel,
    plan_timeline,
    resolve_local,
    valid_timezone,
)

NY = "America/New_York"
QUIET = QuietHours(time(21, 0), time(8, 0))
NO_CAPS = Caps({}, {})
DEFAULT_CAPS = Caps({"sms": 1}, {"sms": 3})


def at(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A local wall-clock time in `zone` as a UTC instant (first occurrence in an overlap)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def utc_at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def program_of(*steps: Step) -> Program:
    return Program(
        id="t",
        name="Test",
        languages=("en",),
        sms_segment_budget={"en": 1},
        steps=steps,
        strings={"en": {s.id: {"sms": "x"} for s in steps}},
        fallback_first_name={"en": "there"},
    )


# --- a wall-clock time on a date: DST gaps move forward, overlaps take the first occurrence ---


@pytest.mark.parametrize(
    ("zone", "day", "local", "expected_utc", "expected_local"),
    [
        # America/New_York: spring forward 2026-03-08 02:00 -> 03:00, fall back 2026-11-01 02:00 -> 01:00
        (NY, date(2026, 3, 7), time(10, 0), utc_at(2026, 3, 7, 15, 0), "2026-03-07T10:00:00-05:00"),
        (NY, date(2026, 3, 8), time(10, 0), utc_at(2026, 3, 8, 14, 0), "2026-03-08T10:00:00-04:00"),
        (NY, date(2026, 3, 8), time(2, 30), utc_at(2026, 3, 8, 7, 30), "2026-03-08T03:30:00-04:00"),
        (NY, date(2026, 3, 8), time(2, 0), utc_at(2026, 3, 8, 7, 0), "2026-03-08T03:00:00-04:00"),
        (NY, date(2026, 11, 1), time(1, 30), utc_at(2026, 11, 1, 5, 30), "2026-11-01T01:30:00-04:00"),
        (NY, date(2026, 11, 1), time(10, 0), utc_at(2026, 11, 1, 15, 0), "2026-11-01T10:00:00-05:00"),
        # Europe/London: gap 2026-03-29 01:00-02:00, overlap 2026-10-25 01:00-02:00
        ("Europe/London", date(2026, 3, 29), time(1, 30), utc_at(2026, 3, 29, 1, 30), "2026-03-29T02:30:00+01:00"),
        ("Europe/London", date(2026, 10, 25), time(1, 30), utc_at(2026, 10, 25, 0, 30), "2026-10-25T01:30:00+01:00"),
        ("Europe/London", date(2026, 7, 1), time(10, 0), utc_at(2026, 7, 1, 9, 0), "2026-07-01T10:00:00+01:00"),
        # Australia/Sydney, southern hemisphere: DST ends 2026-04-05 03:00, starts 2026-10-04 02:00
        ("Australia/Sydney", date(2026, 1, 15), time(10, 0), utc_at(2026, 1, 14, 23, 0), "2026-01-15T10:00:00+11:00"),
        ("Australia/Sydney", date(2026, 7, 15), time(10, 0), utc_at(2026, 7, 15, 0, 0), "2026-07-15T10:00:00+10:00"),
        ("Australia/Sydney", date(2026, 4, 5), time(2, 30), utc_at(2026, 4, 4, 15, 30), "2026-04-05T02:30:00+11:00"),
        ("Australia/Sydney", date(2026, 10, 4), time(2, 30), utc_at(2026, 10, 3, 16, 30), "2026-10-04T03:30:00+11:00"),
        # Odd offsets, no DST
        ("Asia/Kolkata", date(2026, 3, 8), time(10, 0), utc_at(2026, 3, 8, 4, 30), "2026-03-08T10:00:00+05:30"),
        ("Asia/Kathmandu", date(2026, 3, 8), time(10, 0), utc_at(2026, 3, 8, 4, 15), "2026-03-08T10:00:00+05:45"),
        ("Asia/Kathmandu", date(2026, 3, 8), time(0, 0), utc_at(2026, 3, 7, 18, 15), "2026-03-08T00:00:00+05:45"),
    ],
)
def test_resolve_local(zone: str, day: date, local: time, expected_utc: datetime, expected_local: str) -> None:
    resolved = resolve_local(day, local, ZoneInfo(zone))
    assert resolved == expected_utc
    assert resolved.tzinfo is UTC
    assert resolved.astimezone(ZoneInfo(zone)).isoformat() == expected_local


@pytest.mark.parametrize(
    ("zone", "anchor", "step", "expected"),
    [
        # day N counts local calendar days from the enrollment's local date
        (NY, at(NY, 2026, 3, 6, 23, 30), Step("a", ("sms",), day=2, at=time(2, 30)), utc_at(2026, 3, 8, 7, 30)),
        (NY, utc_at(2026, 3, 7, 3, 0), Step("a", ("sms",), day=1, at=time(10, 0)), utc_at(2026, 3, 7, 15, 0)),
        (
            "Asia/Kolkata",
            utc_at(2026, 3, 7, 20, 0),
            Step("a", ("sms",), day=0, at=time(9, 0)),
            utc_at(2026, 3, 8, 3, 30),
        ),
        # relative steps are plain elapsed time, DST or not
        (NY, at(NY, 2026, 3, 7, 12, 0), Step("a", ("sms",), after_minutes=1440), at(NY, 2026, 3, 8, 13, 0)),
        (NY, at(NY, 2026, 3, 7, 12, 0), Step("a", ("sms",), after_minutes=0), at(NY, 2026, 3, 7, 12, 0)),
    ],
)
def test_nominal_due(zone: str, anchor: datetime, step: Step, expected: datetime) -> None:
    assert nominal_due(step, anchor, ZoneInfo(zone)) == expected


@pytest.mark.parametrize(
    ("first_day", "zone"),
    [
        (date(2026, 3, 3), NY),  # spring forward on 2026-03-08
        (date(2026, 10, 27), NY),  # fall back on 2026-11-01
        (date(2026, 3, 25), "Europe/London"),
        (date(2026, 4, 1), "Australia/Sydney"),
        (date(2026, 9, 30), "Australia/Sydney"),
    ],
)
def test_daily_ten_oclock_step_across_dst(first_day: date, zone: str) -> None:
    """Ten daily 10:00 steps around a DST weekend: exactly one a local day, each at 10:00 local."""
    tz = ZoneInfo(zone)
    program = program_of(*(Step(f"d{n}", ("sms",), day=n, at=time(10, 0)) for n in range(10)))
    anchor = resolve_local(first_day, time(9, 0), tz)
    planned = plan_channel(program, "sms", anchor, tz, QUIET, Caps({"sms": 1}, {}))
    local = [m.send_at.astimezone(tz) for m in planned]
    assert [t.date() for t in local] == [first_day + timedelta(days=n) for n in range(10)]
    assert all(t.time() == time(10, 0) for t in local)
    assert Counter(t.date() for t in local).most_common(1)[0][1] == 1
    assert all(m.send_at == m.due_at for m in planned)
    offsets = {t.utcoffset() for t in local}
    assert len(offsets) == 2  # the window really crosses the change


def test_step_in_the_spring_forward_gap_lands_once_an_hour_later() -> None:
    tz = ZoneInfo(NY)
    step = Step("gap", ("sms",), day=1, at=time(2, 30))
    due = nominal_due(step, at(NY, 2026, 3, 7, 12, 0), tz)
    assert due == utc_at(2026, 3, 8, 7, 30)
    assert due.astimezone(tz).isoformat() == "2026-03-08T03:30:00-04:00"
    # 02:30 is inside the default quiet hours: the send moves to 08:00 EDT the same morning
    assert defer_quiet(due, tz, QUIET) == utc_at(2026, 3, 8, 12, 0)


def test_step_in_the_fall_back_overlap_is_sent_once() -> None:
    tz = ZoneInfo(NY)
    program = program_of(Step("dup", ("sms",), day=1, at=time(1, 30)))
    night = QuietHours(time(3, 0), time(4, 0))
    planned = plan_timeline(program, ["sms"], at(NY, 2026, 10, 31, 12, 0), tz, night, NO_CAPS)
    assert [m.send_at for m in planned] == [utc_at(2026, 11, 1, 5, 30)]


# --- quiet hours --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "quiet", "instant", "expected"),
    [
        (NY, QUIET, at(NY, 2026, 5, 4, 20, 59), at(NY, 2026, 5, 4, 20, 59)),
        (NY, QUIET, at(NY, 2026, 5, 4, 21, 0), at(NY, 2026, 5, 5, 8, 0)),
        (NY, QUIET, at(NY, 2026, 5, 4, 23, 59), at(NY, 2026, 5, 5, 8, 0)),
        (NY, QUIET, at(NY, 2026, 5, 5, 0, 0), at(NY, 2026, 5, 5, 8, 0)),
        (NY, QUIET, at(NY, 2026, 5, 5, 3, 0), at(NY, 2026, 5, 5, 8, 0)),
        (NY, QUIET, at(NY, 2026, 5, 5, 7, 59, 59), at(NY, 2026, 5, 5, 8, 0)),
        (NY, QUIET, at(NY, 2026, 5, 5, 8, 0), at(NY, 2026, 5, 5, 8, 0)),
        # the night of the spring-forward: 22:00 EST -> 08:00 EDT, 9 real hours later
        (NY, QUIET, at(NY, 2026, 3, 7, 22, 0), utc_at(2026, 3, 8, 12, 0)),
        # the night of the fall-back: 22:00 EDT -> 08:00 EST, 11 real hours later
        (NY, QUIET, at(NY, 2026, 10, 31, 22, 0), utc_at(2026, 11, 1, 13, 0)),
        ("Asia/Kathmandu", QUIET, utc_at(2026, 5, 4, 16, 0), utc_at(2026, 5, 5, 2, 15)),
        ("Asia/Kolkata", QUIET, utc_at(2026, 5, 4, 2, 29), utc_at(2026, 5, 4, 2, 30)),
        # a window that does not cross midnight
        (NY, QuietHours(time(12, 0), time(13, 0)), at(NY, 2026, 5, 4, 11, 59), at(NY, 2026, 5, 4, 11, 59)),
        (NY, QuietHours(time(12, 0), time(13, 0)), at(NY, 2026, 5, 4, 12, 0), at(NY, 2026, 5, 4, 13, 0)),
        (NY, QuietHours(time(12, 0), time(13, 0)), at(NY, 2026, 5, 4, 12, 59), at(NY, 2026, 5, 4, 13, 0)),
        (NY, QuietHours(time(12, 0), time(13, 0)), at(NY, 2026, 5, 4, 23, 0), at(NY, 2026, 5, 4, 23, 0)),
        # an empty window never defers
        (NY, QuietHours(time(8, 0), time(8, 0)), at(NY, 2026, 5, 4, 3, 0), at(NY, 2026, 5, 4, 3, 0)),
    ],
)
def test_defer_quiet(zone: str, quiet: QuietHours, instant: datetime, expected: datetime) -> None:
    assert defer_quiet(instant, ZoneInfo(zone), quiet) == expected


# --- caps ---------------------------------------------------------------------------------

DAY0 = date(2026, 5, 4)  # a Monday, far from any DST change in New York


def ny(day: int, hour: int, minute: int = 0) -> datetime:
    """Local time `hour:minute` in New York, `day` days after DAY0."""
    return resolve_local(DAY0 + timedelta(days=day), time(hour, minute), ZoneInfo(NY))


CAP_CASES = [
    # per day: the patient's local calendar day
    ([], ny(0, 10), 1, None, ny(0, 10)),
    ([ny(0, 9)], ny(0, 10), 1, None, ny(1, 0)),
    ([ny(0, 23, 30)], ny(0, 23, 45), 1, None, ny(1, 0)),
    ([ny(0, 23, 30)], ny(1, 0), 1, None, ny(1, 0)),
    ([ny(0, 9)], ny(0, 10), 2, None, ny(0, 10)),
    # per week: any 7 x 24 h; a send exactly 168 h old no longer counts
    ([ny(0, 10), ny(1, 10), ny(2, 10)], ny(3, 10), None, 3, ny(7, 10)),
    ([ny(0, 10), ny(1, 10), ny(2, 10)], ny(7, 10), None, 3, ny(7, 10)),
    ([ny(0, 10), ny(1, 10), ny(2, 10)], ny(7, 9, 59), None, 3, ny(7, 10)),
    ([ny(0, 10), ny(1, 10)], ny(3, 10), None, 3, ny(3, 10)),
    ([ny(-7, 10), ny(1, 10), ny(2, 10)], ny(3, 10), None, 3, ny(3, 10)),
    # combined: the day cap first
    ([ny(0, 10), ny(1, 10), ny(2, 10)], ny(2, 15), 1, 3, ny(3, 0)),
]


@pytest.mark.parametrize(("sent", "instant", "per_day", "per_week", "expected"), CAP_CASES)
def test_defer_caps(
    sent: list[datetime], instant: datetime, per_day: int | None, per_week: int | None, expected: datetime
) -> None:
    assert defer_caps(instant, ZoneInfo(NY), sent, per_day, per_week) == expected


@pytest.mark.parametrize(("sent", "instant", "per_day", "per_week", "expected"), CAP_CASES)
def test_cap_hit_names_the_cap_that_moves_a_message(
    sent: list[datetime], instant: datetime, per_day: int | None, per_week: int | None, expected: datetime
) -> None:
    hit = cap_hit(instant, ZoneInfo(NY), sent, per_day, per_week)
    if expected == instant:
        assert hit is None
    else:
        assert hit is not None and hit.until == expected
        assert hit.limit == (per_day if hit.unit == "day" else per_week)


@pytest.mark.parametrize(
    ("sent", "instant", "per_day", "per_week", "expected"),
    [
        # a send at 23:30, then the next allowed at 00:00 by the day cap, then 08:00 by quiet hours
        ([ny(0, 23, 30)], ny(0, 23, 45), 1, None, ny(1, 8)),
        ([ny(0, 10)], ny(0, 15), 1, None, ny(1, 8)),
        # day cap -> 00:00 -> quiet until 08:00 -> week cap until the first send is 168 h old
        ([ny(0, 10), ny(1, 10), ny(2, 10)], ny(2, 15), 1, 3, ny(7, 10)),
        # week cap ending inside quiet hours: 22:00 + 168 h -> 08:00 the next morning
        ([ny(0, 22), ny(1, 10), ny(2, 10)], ny(3, 10), 1, 3, ny(8, 8)),
        ([], ny(0, 21, 30), 1, 3, ny(1, 8)),
    ],
)
def test_next_allowed(
    sent: list[datetime], instant: datetime, per_day: int | None, per_week: int | None, expected: datetime
) -> None:
    assert next_allowed(instant, ZoneInfo(NY), QUIET, sent, per_day, per_week) == expected


def test_week_cap_is_168_hours_even_across_spring_forward() -> None:
    """Three sends from 10:00 EST on 2 March: the fourth may go 168 h after the first, 11:00 EDT."""
    tz = ZoneInfo(NY)
    sent = [at(NY, 2026, 3, 2, 10), at(NY, 2026, 3, 3, 10), at(NY, 2026, 3, 4, 10)]
    allowed = next_allowed(at(NY, 2026, 3, 5, 10), tz, QUIET, sent, 1, 3)
    assert allowed == sent[0] + timedelta(hours=168)
    assert allowed.astimezone(tz).isoformat() == "2026-03-09T11:00:00-04:00"


def test_day_cap_uses_the_short_local_day_of_spring_forward() -> None:
    tz = ZoneInfo(NY)
    sent = [at(NY, 2026, 3, 8, 0, 30)]
    assert defer_caps(at(NY, 2026, 3, 8, 23, 0), tz, sent, 1, None) == at(NY, 2026, 3, 9, 0, 0)
    assert defer_caps(at(NY, 2026, 3, 9, 0, 0), tz, sent, 1, None) == at(NY, 2026, 3, 9, 0, 0)


def test_caps_defer_but_never_drop() -> None:
    """Four SMS on day 1: all are sent, one a day from 08:00 once the first has gone."""
    tz = ZoneInfo(NY)
    program = program_of(*(Step(f"s{n}", ("sms",), day=1, at=time(10 + n)) for n in range(4)))
    planned = plan_channel(program, "sms", ny(0, 9), tz, QUIET, Caps({"sms": 1}, {}))
    assert [m.send_at for m in planned] == [ny(1, 10), ny(2, 8), ny(3, 8), ny(4, 8)]


def test_plan_timeline_merges_channels_in_send_order() -> None:
    tz = ZoneInfo(NY)
    program = program_of(
        Step("welcome", ("sms", "email"), after_minutes=0),
        Step("tip", ("sms", "email"), day=1, at=time(10)),
        Step("extra", ("sms", "email"), day=1, at=time(18)),
    )
    planned = plan_timeline(program, ["sms", "email"], ny(0, 22), tz, QUIET, DEFAULT_CAPS)
    got = [(m.step.id, m.channel, m.send_at) for m in planned]
    assert got == [
        ("welcome", "email", ny(1, 8)),
        ("welcome", "sms", ny(1, 8)),
        ("tip", "email", ny(1, 10)),
        ("extra", "email", ny(1, 18)),
        ("tip", "sms", ny(2, 8)),
        ("extra", "sms", ny(3, 8)),
    ]


def test_first_cursor_after() -> None:
    tz = ZoneInfo(NY)
    program = program_of(
        Step("welcome", ("sms",), after_minutes=0),
        Step("tip", ("sms",), day=1, at=time(10)),
        Step("later", ("sms",), day=3, at=time(10)),
    )
    anchor = ny(0, 9)
    assert first_cursor_after(program, "sms", anchor, anchor, tz) == 0
    assert first_cursor_after(program, "sms", ny(2, 0), anchor, tz) == 2
    assert first_cursor_after(program, "sms", ny(5, 0), anchor, tz) == 3


def test_valid_timezone() -> None:
    assert valid_timezone("Asia/Kathmandu").key == "Asia/Kathmandu"
    for bad in ("Mars/Olympus", "", "../etc/passwd"):
        with pytest.raises(ValueError, match="unknown IANA timezone"):
            valid_timezone(bad)
