"""Anchor dates and the catch-up policy as pure tables: program syntax, due times from a clinic's
date across DST changes, which late steps each policy skips, and the plan simulate and lint run."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support.program_edits import edit_program
from worker.catchup import is_late, late_indexes
from worker.errors import ContentError
from worker.policy import Caps, QuietHours
from worker.programs import CatchUp, Program, Step, load_program
from worker.schedule import due_at_cursor, nominal_due, plan_channel
from worker.store.codec import pack_anchors, unpack_anchors

CONTENT = Path(__file__).resolve().parents[2] / "content"
QUIET = QuietHours(time(21, 0), time(8, 0))
DEFAULT_CAPS = Caps({"sms": 1}, {"sms": 3})


def local(zone: str, y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def visit_program(catch_up: CatchUp = CatchUp.ALL) -> Program:
    steps = (
        Step("welcome", ("sms",), after_minutes=0),
        Step("notes", ("sms",), day=-3, at=time(10, 0), anchor="visit"),
        Step("list", ("sms",), day=-1, at=time(18, 0), anchor="visit"),
        Step("after", ("sms",), day=5, at=time(10, 0), anchor="visit"),
    )
    return Program(
        id="v",
        name="V",
        languages=("en",),
        sms_segment_budget={"en": 1},
        steps=steps,
        strings={"en": {s.id: {"sms": "x"} for s in steps}},
        fallback_first_name={"en": "there"},
        anchors=("visit",),
        catch_up=catch_up,
    )


# --- due times from an anchor, in the patient's zone, across DST changes ---------------------

ANCHORED = [
    # (zone, visit (local), step day, step at, expected due (local wall clock on that zone's date))
    # America/New_York falls back on 2026-11-01: two days before a 3 Nov visit is 1 Nov, 10:00 EST
    ("America/New_York", (2026, 11, 3, 15, 0), -2, time(10, 0), (2026, 11, 1, 10, 0)),
    ("America/New_York", (2026, 11, 3, 15, 0), -3, time(10, 0), (2026, 10, 31, 10, 0)),
    # no `at`: the visit's own local time of day, 3 days after, across the change
    ("America/New_York", (2026, 10, 30, 15, 0), 3, None, (2026, 11, 2, 15, 0)),
    # Europe/Madrid: 25 Oct 2026 03:00 -> 02:00
    ("Europe/Madrid", (2026, 10, 27, 9, 30), -2, time(10, 0), (2026, 10, 25, 10, 0)),
    # Australia/Sydney: 5 Apr 2026 03:00 -> 02:00 (autumn), 4 Oct 2026 02:00 -> 03:00 (spring)
    ("Australia/Sydney", (2026, 4, 6, 11, 0), -1, time(18, 0), (2026, 4, 5, 18, 0)),
    ("Australia/Sydney", (2026, 10, 1, 11, 0), 3, time(2, 30), (2026, 10, 4, 3, 30)),  # in the gap: moved on
    # Asia/Kolkata, no DST, +05:30
    ("Asia/Kolkata", (2026, 3, 10, 12, 0), -7, time(10, 0), (2026, 3, 3, 10, 0)),
]


@pytest.mark.parametrize(("zone", "visit", "day", "at", "expected"), ANCHORED)
def test_anchored_due_is_local_wall_clock_from_the_visit_day(
    zone: str,
    visit: tuple[int, int, int, int, int],
    day: int,
    at: time | None,
    expected: tuple[int, int, int, int, int],
) -> None:
    tz = ZoneInfo(zone)
    step = Step("s", ("sms",), day=day, at=at, anchor="visit")
    start = local(zone, 2026, 1, 2, 9, 0)  # far from the visit: the start plays no part
    due = nominal_due(step, start, tz, {"visit": local(zone, *visit)})
    y, m, d, hh, mm = expected
    assert due.astimezone(tz).replace(tzinfo=None) == datetime(y, m, d, hh, mm)


def test_anchor_day_is_the_patients_local_day_not_the_offset_given() -> None:
    """A visit given as 23:30 in New York is the next day in Madrid: days count from Madrid's date."""
    visit = datetime(2026, 12, 3, 23, 30, tzinfo=ZoneInfo("America/New_York"))
    step = Step("s", ("sms",), day=-1, at=time(10, 0), anchor="visit")
    due = nominal_due(step, visit, ZoneInfo("Europe/Madrid"), {"visit": visit})
    assert due == local("Europe/Madrid", 2026, 12, 3, 10, 0)


def test_unanchored_steps_and_a_missing_anchor() -> None:
    tz = ZoneInfo("America/New_York")
    start = local("America/New_York", 2026, 3, 1, 9, 0)
    assert nominal_due(Step("s", ("sms",), day=2, at=time(10, 0)), start, tz, {"visit": start}) == local(
        "America/New_York", 2026, 3, 3, 10, 0
    )
    anchored = Step("s", ("sms",), day=1, at=time(10, 0), anchor="visit")
    assert nominal_due(anchored, start, tz) == local("America/New_York", 2026, 3, 2, 10, 0)  # erased: the start


def test_due_at_cursor_moves_with_the_anchor() -> None:
    program, tz = visit_program(), ZoneInfo("America/New_York")
    start = local("America/New_York", 2026, 10, 20, 9, 0)
    before = due_at_cursor(program, "sms", 1, start, tz, QUIET, {"visit": local("America/New_York", 2026, 11, 3, 15)})
    after = due_at_cursor(program, "sms", 1, start, tz, QUIET, {"visit": local("America/New_York", 2026, 11, 6, 15)})
    assert before == local("America/New_York", 2026, 10, 31, 10, 0)
    assert after == local("America/New_York", 2026, 11, 3, 10, 0)  # EST now: 15:00 UTC, not 14:00
    assert after - before == timedelta(days=3, hours=1)


# --- the catch-up policy --------------------------------------------------------------------

D = [datetime(2026, 1, d, 12, tzinfo=UTC) for d in (1, 2, 3, 4, 5)]
MARK = datetime(2026, 1, 3, 18, tzinfo=UTC)  # steps 0, 1, 2 are past


@pytest.mark.parametrize(
    ("policy", "first", "expected"),
    [
        (CatchUp.ALL, 0, set()),
        (CatchUp.SKIP, 0, {1, 2}),  # the first step introduces the program: never skipped
        (CatchUp.LATEST, 0, {1}),  # only the most recent past one (2) goes, and the first
        (CatchUp.SKIP, 2, {2}),
        (CatchUp.LATEST, 2, set()),
        (CatchUp.LATEST, 3, set()),
    ],
)
def test_late_indexes(policy: CatchUp, first: int, expected: set[int]) -> None:
    assert late_indexes(policy, D, MARK, first) == expected


def test_is_late_agrees_with_the_plan_at_every_cursor() -> None:
    for policy in CatchUp:
        skipped = late_indexes(policy, D, MARK)
        assert {c for c in range(len(D)) if is_late(policy, D, c, MARK)} == skipped
    assert not is_late(CatchUp.SKIP, D, 1, D[0])  # nothing is late before the mark


@pytest.mark.parametrize(
    ("policy", "sent", "skipped"),
    [
        (CatchUp.ALL, ["welcome", "notes", "list", "after"], []),
        (CatchUp.LATEST, ["welcome", "list", "after"], ["notes"]),
        (CatchUp.SKIP, ["welcome", "after"], ["notes", "list"]),
    ],
)
def test_plan_of_a_patient_enrolled_after_two_reminders(policy: CatchUp, sent: list[str], skipped: list[str]) -> None:
    zone = "America/New_York"
    tz = ZoneInfo(zone)
    visit = {"visit": local(zone, 2026, 11, 3, 15, 0)}
    enrolled = local(zone, 2026, 11, 2, 20, 0)  # after notes (31 Oct) and list (2 Nov 18:00)
    plan = plan_channel(visit_program(policy), "sms", enrolled, tz, QUIET, DEFAULT_CAPS, visit, enrolled)
    assert [m.step.id for m in plan if not m.skipped] == sent
    assert [m.step.id for m in plan if m.skipped] == skipped
    going = [m.send_at for m in plan if not m.skipped]
    assert going == sorted(going) and going[0] == enrolled
    if policy is CatchUp.ALL:  # the late ones go one per allowed slot: 1 SMS a local day, never in quiet hours
        assert [t.astimezone(tz).strftime("%m-%d %H:%M") for t in going[:3]] == [
            "11-02 20:00",
            "11-03 08:00",
            "11-04 08:00",
        ]


# --- program.yaml syntax ----------------------------------------------------------------------


def test_visit_prep_program_loads() -> None:
    program = load_program(CONTENT, "visit-prep")
    assert program.anchors == ("visit",) and program.catch_up is CatchUp.LATEST
    assert [(s.id, s.anchor, s.day) for s in program.steps] == [
        ("welcome", None, None),
        ("notes", "visit", -3),
        ("medicines-list", "visit", -1),
        ("after-visit", "visit", 5),
    ]
    assert load_program(CONTENT, "twitching").catch_up is CatchUp.ALL  # the default: today's behaviour


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copytree(CONTENT / "visit-prep", tmp_path / "visit-prep")
    return tmp_path


def edit(folder: Path, change: dict[str, object], step: int | None = None) -> None:
    edit_program(folder / "visit-prep" / "program.yaml", change, step)


@pytest.mark.parametrize(
    ("change", "step", "message"),
    [
        ({"from": "surgery"}, 1, r"steps\[1\]\.from: 'surgery' is not a declared anchor \(anchors: visit\)"),
        ({"from": None}, 1, r"steps\[1\]\.day: a whole number >= 0 \(a negative day needs `from:` an anchor\)"),
        ({"anchors": None}, None, r"steps\[1\]\.from: 'visit' is not a declared anchor \(anchors: none\)"),
        ({"catch_up": "some"}, None, r"catch_up: one of all, latest, skip"),
        ({"anchors": ["Visit"]}, None, r"anchors: a list of names"),
        ({"after_minutes": 5}, 1, r"steps\[1\]: a step timed from an anchor gives day"),
        ({"day": 400}, 1, r"steps\[1\]\.day: a whole number of days from visit"),
        ({"at": "25:00"}, 1, r'steps\[1\]\.at: a local time as "HH:MM"'),
    ],
)
def test_program_errors_name_the_field(folder: Path, change: dict[str, object], step: int | None, message: str) -> None:
    edit(folder, change, step)
    with pytest.raises(ContentError, match=message):
        load_program(folder, "visit-prep")


def test_anchored_step_without_at_takes_the_anchors_time(folder: Path) -> None:
    edit(folder, {"at": None}, 3)
    assert load_program(folder, "visit-prep").step("after-visit").at is None


def test_anchors_pack_into_the_sealed_details() -> None:
    anchors = {"visit": datetime(2026, 12, 3, 20, tzinfo=UTC), "a-2": datetime(1999, 1, 1, tzinfo=UTC)}
    packed = pack_anchors(anchors)
    assert packed == "a-2=915148800;visit=1796328000"
    assert unpack_anchors(packed) == anchors
    assert unpack_anchors("") == {}
