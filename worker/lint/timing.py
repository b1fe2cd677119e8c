"""The timing rules of `caredrip lint`: steps in time order, outside quiet hours, and never held
back by the frequency caps, reported as `<file>: <step>: <rule>: <detail>`.

The caps rule runs the scheduler's own `plan_channel` over a grid of enrollment instants (twice an
hour and a minute either side of each step time and quiet-hours edge, on every enrollment day that
puts a DST change inside the program, in zones of both hemispheres and one with a half-hour offset),
and names a held-back message's cap with the scheduler's own rule (`schedule.cap_hit`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

from worker.policy import Caps, QuietHours
from worker.programs import Program, Step
from worker.schedule import PlannedMessage, cap_hit, channel_caps, defer_quiet, plan_channel, resolve_local

CAP_ZONES = ("America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata")
GRID_YEAR = 2026
GRID_MINUTES = (1, 31)  # enrollment at hh:01 and hh:31: just after each whole and half hour
_CHANNEL_NAMES = {"sms": "SMS"}
_MINUTES_A_DAY = 24 * 60


def order_problems(program: Program, path: Path) -> list[str]:
    """Each step must not be able to land before the step listed above it."""
    problems: list[str] = []
    for prev, step in pairwise(program.steps):
        if _can_precede(step, prev):
            problems.append(
                f"{path}: {step.id}: out of order: {describe(step)} can come before the step above it"
                f" ({prev.id}: {describe(prev)})"
            )
    return problems


def quiet_problems(program: Program, path: Path, quiet: QuietHours) -> list[str]:
    """A dated step's local time must be outside quiet hours."""
    window = f"{quiet.start:%H:%M}-{quiet.end:%H:%M}"
    return [
        f"{path}: {step.id}: quiet hours: {step.at:%H:%M} local is inside quiet hours {window}"
        for step in program.steps
        if step.at is not None and quiet.contains(step.at)
    ]


def cap_problems(program: Program, path: Path, quiet: QuietHours, caps: Caps) -> tuple[list[str], int]:
    """Steps the caps would hold back for some enrollment instant; also how many plans were run."""
    problems: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    plans = 0
    for channel in capped_channels(program, caps):
        for tz, anchor, anchors in enrollment_grid(program, quiet):
            plans += 1
            plan = plan_channel(program, channel, anchor, tz, quiet, caps, anchors)
            for message, rule in cap_breaks(plan, tz, quiet, caps):
                if (message.step.id, channel, rule) in seen:
                    continue
                seen.add((message.step.id, channel, rule))
                problems.append(_cap_problem(path, message, rule, tz, anchor, quiet))
    return problems, plans


def capped_channels(program: Program, caps: Caps) -> list[str]:
    channels = sorted(set(caps.per_day) | set(caps.per_week))
    return [ch for ch in channels if len(program.steps_for(ch)) > 1]


def cap_breaks(
    plan: Sequence[PlannedMessage], tz: ZoneInfo, quiet: QuietHours, caps: Caps
) -> Iterator[tuple[PlannedMessage, str]]:
    """Messages sent later than their due time (moved out of quiet hours) because of a cap."""
    sent: list[datetime] = []
    for message in plan:
        wanted = defer_quiet(message.due_at, tz, quiet)
        if message.send_at != wanted:
            rule = broken_cap(wanted, tz, sent, message.channel, *channel_caps(caps, message.channel))
            if rule is not None:
                yield message, rule
        sent.append(message.send_at)


def broken_cap(
    instant: datetime,
    tz: ZoneInfo,
    sent: Sequence[datetime],
    channel: str,
    per_day: int | None,
    per_week: int | None,
) -> str | None:
    """The cap that one more message at `instant`, after the sends in `sent`, would break, in words.

    The rule is the scheduler's own (`schedule.cap_hit`); this only names it.
    """
    hit = cap_hit(instant, tz, sent, per_day, per_week)
    if hit is None:
        return None
    name = _CHANNEL_NAMES.get(channel, channel)
    span = "a local day" if hit.unit == "day" else "in any 7 x 24 hours"
    return f"{hit.limit} {name} {span}"


def _cap_problem(
    path: Path, message: PlannedMessage, rule: str, tz: ZoneInfo, anchor: datetime, quiet: QuietHours
) -> str:
    wanted = defer_quiet(message.due_at, tz, quiet)
    return (
        f"{path}: {message.step.id}.{message.channel}: caps: breaks the cap of {rule}"
        f" (e.g. enrolled {_local(anchor, tz)} {tz.key}: due {_local(wanted, tz)}, held to"
        f" {_local(message.send_at, tz)})"
    )


def enrollment_grid(program: Program, quiet: QuietHours) -> Iterator[tuple[ZoneInfo, datetime, dict[str, datetime]]]:
    """Enrollment instants to plan from, per zone: each day that puts a DST change inside the program
    (and one ordinary day), at every time of day in `enrollment_times`; with the program's anchors
    (if any) at noon local `anchor_leads` days later: enrolled in time for its first anchored step
    (one enrolled later has steps already past, which the catch-up policy, not the caps, decides)."""
    span = _program_days(program)
    times = enrollment_times(program, quiet)
    leads = anchor_leads(program)
    for name in CAP_ZONES:
        tz = ZoneInfo(name)
        for day in _enrollment_days(name, span):
            for at in times:
                start = resolve_local(day, at, tz)
                for lead in leads:
                    anchored = resolve_local(day + timedelta(days=lead), time(12, 0), tz)
                    yield tz, start, {a: anchored for a in program.anchors}


def anchor_leads(program: Program) -> tuple[int, ...]:
    """Days from enrollment to the anchors that lint plans with: the first anchored step on day 2
    at the earliest (as a dated step would be), and the two days after; (0,) without anchors."""
    days = [s.day for s in program.steps if s.anchor is not None and s.day is not None]
    if not days:
        return (0,)
    first = 2 - min(days)
    return (first, first + 1, first + 2)


def enrollment_times(program: Program, quiet: QuietHours) -> list[time]:
    """Local times of day to enroll at: twice an hour, and a minute either side of every step time
    and quiet-hours edge, since a cap breaks for enrollments just after such a moment."""
    minutes = {hour * 60 + m for hour in range(24) for m in GRID_MINUTES}
    edges = [s.at for s in program.steps if s.at is not None] + [quiet.start, quiet.end]
    for edge in edges:
        minute = edge.hour * 60 + edge.minute
        minutes.update({(minute - 1) % _MINUTES_A_DAY, minute, (minute + 1) % _MINUTES_A_DAY})
    return [time(m // 60, m % 60) for m in sorted(minutes)]


def _enrollment_days(zone: str, span: int) -> list[date]:
    days = {date(GRID_YEAR, 1, 15)}
    for change in dst_changes(zone, GRID_YEAR):
        days.update(change - timedelta(days=n) for n in range(span + 1))
    return sorted(days)


@cache
def dst_changes(zone: str, year: int) -> tuple[date, ...]:
    """The local dates in `year` on which `zone`'s UTC offset changes."""
    tz = ZoneInfo(zone)
    noon = datetime(year, 1, 1, 12, tzinfo=UTC)
    changes: list[date] = []
    previous = noon.astimezone(tz).utcoffset()
    for n in range(1, 366):
        local = (noon + timedelta(days=n)).astimezone(tz)
        if local.utcoffset() != previous:
            changes.append(local.date())
            previous = local.utcoffset()
    return tuple(changes)


def _program_days(program: Program) -> int:
    lead = max(anchor_leads(program))
    last_day = max((s.day + (lead if s.anchor else 0) for s in program.steps if s.day is not None), default=0)
    last_relative = max((s.after_minutes for s in program.steps if s.after_minutes is not None), default=0)
    return max(last_day, -(-last_relative // _MINUTES_A_DAY)) + 1


def describe(step: Step) -> str:
    if step.after_minutes is not None:
        return f"{step.after_minutes} minutes after enrollment"
    at = "its time of day" if step.at is None else f"{step.at:%H:%M}"
    if step.anchor is not None:
        return f"day {step.day} from {step.anchor} at {at}"
    return f"day {step.day} at {at}"


def _can_precede(step: Step, prev: Step) -> bool:
    """Whether `step` can be due before `prev` (enrollment may be at any minute of day 0). Steps
    timed from different dates (the start, or another anchor) are not compared: the clinic's date
    places them, and the engine sends a channel's steps in program order whatever their times."""
    if step.anchor != prev.anchor:
        return False
    if step.after_minutes is not None and prev.after_minutes is not None:
        return step.after_minutes < prev.after_minutes
    return _minutes(step)[0] < _minutes(prev)[1]


def _minutes(step: Step) -> tuple[int, int]:
    """Earliest and latest minute after local midnight of day 0 at which `step` can be due."""
    if step.after_minutes is not None:
        return step.after_minutes, step.after_minutes + _MINUTES_A_DAY - 1
    assert step.day is not None
    if step.at is None:  # an anchored step at its anchor's time of day: any minute of that day
        return step.day * _MINUTES_A_DAY, step.day * _MINUTES_A_DAY + _MINUTES_A_DAY - 1
    minute = step.day * _MINUTES_A_DAY + step.at.hour * 60 + step.at.minute
    return minute, minute


def _local(instant: datetime, tz: ZoneInfo) -> str:
    return instant.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
