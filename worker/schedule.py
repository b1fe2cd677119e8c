"""Pure time math: a step's due instant, DST, quiet hours and frequency caps. No I/O.

`cap_hit` is the one cap rule: the send path (through `next_allowed`) and `caredrip lint` both
ask it, so what lint reports is what the worker enforces.

Every function takes and returns timezone-aware UTC datetimes; local wall-clock times are
resolved through the patient's IANA zone. A local time that does not exist (the spring-forward
gap) moves forward by the gap; one that happens twice (fall-back) means its first occurrence.
So every step lands on exactly one real instant, never an error and never twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from worker.catchup import late_indexes
from worker.policy import Caps, QuietHours
from worker.programs import Program, Step

WEEK = timedelta(days=7)
_MAX_PUSHES = 64


def valid_timezone(name: str) -> ZoneInfo:
    """The IANA zone called `name`; raises ValueError for an unknown one."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        raise ValueError(f"unknown IANA timezone {name!r}") from None


def resolve_local(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock `at` on `day` in `tz` (gap: shifted forward; overlap: first)."""
    return datetime.combine(day, at, tzinfo=tz).replace(fold=0).astimezone(UTC)


Anchors = Mapping[str, datetime]
NO_ANCHORS: Anchors = {}


def nominal_due(step: Step, anchor: datetime, tz: ZoneInfo, anchors: Anchors = NO_ANCHORS) -> datetime:
    """When `step` is due for a patient whose program started at `anchor`, before any deferral.

    A step timed from a clinic's date (`step.anchor`, e.g. `visit`) counts its `day` (negative:
    before) from that date's local calendar day in `tz`, at `step.at` local, or without `at` at
    the date's own local wall-clock time. Without the date (an erased enrollment's details are
    gone) the start stands in for it."""
    if step.after_minutes is not None:
        return anchor + timedelta(minutes=step.after_minutes)
    assert step.day is not None
    if step.anchor is not None:
        base = anchors.get(step.anchor, anchor).astimezone(tz)
        at = step.at if step.at is not None else base.time().replace(tzinfo=None)
        return resolve_local(base.date() + timedelta(days=step.day), at, tz)
    assert step.at is not None
    start_day = anchor.astimezone(tz).date()
    return resolve_local(start_day + timedelta(days=step.day), step.at, tz)


def defer_quiet(instant: datetime, tz: ZoneInfo, quiet: QuietHours) -> datetime:
    """`instant`, or the end of the quiet window it falls in (recipient local time)."""
    local = instant.astimezone(tz)
    if not quiet.contains(local.time()):
        return instant
    end_day = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        end_day += timedelta(days=1)
    return resolve_local(end_day, quiet.end, tz)


@dataclass(frozen=True, slots=True)
class CapHit:
    """A cap that one more message would break: which one, its limit, and when it allows one again."""

    unit: Literal["day", "week"]
    limit: int
    until: datetime


def cap_hit(
    instant: datetime, tz: ZoneInfo, sent: Sequence[datetime], per_day: int | None, per_week: int | None
) -> CapHit | None:
    """The cap that one more message at `instant`, after the sends in `sent`, would break; None if none.

    The day is the patient's local calendar day (checked first); the week is any 7 x 24 hours, so
    a message may go once the oldest send that fills the window is a full week old.
    """
    if per_day is not None:
        local_day = instant.astimezone(tz).date()
        if sum(1 for s in sent if s.astimezone(tz).date() == local_day) >= per_day:
            return CapHit("day", per_day, resolve_local(local_day + timedelta(days=1), time(0, 0), tz))
    if per_week is not None:
        window = sorted(s for s in sent if instant - WEEK < s <= instant)
        if len(window) >= per_week:
            return CapHit("week", per_week, window[len(window) - per_week] + WEEK)
    return None


def local_day(instant: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The recipient's local calendar day around `instant` as [start, start of the next day): the
    day `cap_hit` counts (the atomic per-recipient check in the store counts the same span)."""
    day = instant.astimezone(tz).date()
    return resolve_local(day, time(0, 0), tz), resolve_local(day + timedelta(days=1), time(0, 0), tz)


def defer_caps(
    instant: datetime, tz: ZoneInfo, sent: Sequence[datetime], per_day: int | None, per_week: int | None
) -> datetime:
    """The first instant >= `instant` at which the cap `instant` breaks (if any) allows one more."""
    hit = cap_hit(instant, tz, sent, per_day, per_week)
    return instant if hit is None else hit.until


def next_allowed(
    instant: datetime,
    tz: ZoneInfo,
    quiet: QuietHours,
    sent: Sequence[datetime] = (),
    per_day: int | None = None,
    per_week: int | None = None,
) -> datetime:
    """The first instant >= `instant` outside quiet hours and within the caps."""
    current = instant
    for _ in range(_MAX_PUSHES):
        pushed = defer_caps(defer_quiet(current, tz, quiet), tz, sent, per_day, per_week)
        if pushed == current:
            return current
        current = pushed
    raise ValueError("no allowed instant found: quiet hours and caps leave no room")


@dataclass(frozen=True, slots=True)
class PlannedMessage:
    """One message of a simulated timeline; `skipped`: recorded `skipped` (`late`) by the
    program's catch-up policy, never sent (its `send_at` is when that happens)."""

    step: Step
    channel: str
    due_at: datetime
    send_at: datetime
    skipped: bool = False


def channel_caps(caps: Caps, channel: str) -> tuple[int | None, int | None]:
    """(per day, per week) for `channel`; None where that channel has no such cap."""
    return caps.per_day.get(channel), caps.per_week.get(channel)


def plan_channel(
    program: Program,
    channel: str,
    anchor: datetime,
    tz: ZoneInfo,
    quiet: QuietHours,
    caps: Caps,
    anchors: Anchors = NO_ANCHORS,
    now: datetime | None = None,
) -> list[PlannedMessage]:
    """One channel's timeline as the engine would send it if every send went out when allowed,
    for a patient enrolled at `now` (default: the start `anchor`): a step already due then is
    late, and the program's catch-up policy (worker.catchup) sends or skips it."""
    per_day, per_week = channel_caps(caps, channel)
    enrolled = anchor if now is None else now
    dues = channel_dues(program, channel, anchor, tz, anchors)
    late = late_indexes(program.catch_up, dues, enrolled)
    sent: list[datetime] = []
    planned: list[PlannedMessage] = []
    for i, (step, due) in enumerate(zip(program.steps_for(channel), dues, strict=True)):
        if i in late:
            planned.append(PlannedMessage(step, channel, due, enrolled, skipped=True))
            continue
        earliest = max([due, enrolled, *sent[-1:]])
        send_at = next_allowed(earliest, tz, quiet, sent, per_day, per_week)
        sent.append(send_at)
        planned.append(PlannedMessage(step, channel, due, send_at))
    return planned


def channel_dues(
    program: Program, channel: str, anchor: datetime, tz: ZoneInfo, anchors: Anchors = NO_ANCHORS
) -> list[datetime]:
    """The program time (before quiet hours and caps) of each of the channel's steps, in order."""
    return [nominal_due(step, anchor, tz, anchors) for step in program.steps_for(channel)]


def plan_timeline(
    program: Program,
    channels: Sequence[str],
    anchor: datetime,
    tz: ZoneInfo,
    quiet: QuietHours,
    caps: Caps,
    anchors: Anchors = NO_ANCHORS,
    now: datetime | None = None,
) -> list[PlannedMessage]:
    """Every channel's timeline merged in send order (program order breaks ties)."""
    order = {step.id: i for i, step in enumerate(program.steps)}
    merged = [m for ch in channels for m in plan_channel(program, ch, anchor, tz, quiet, caps, anchors, now)]
    return sorted(merged, key=lambda m: (m.send_at, order[m.step.id], m.channel))


def due_at_cursor(
    program: Program,
    channel: str,
    cursor: int,
    anchor: datetime,
    tz: ZoneInfo,
    quiet: QuietHours,
    anchors: Anchors = NO_ANCHORS,
) -> datetime | None:
    """When the channel's `cursor`-th step is due, moved out of quiet hours; None past the end."""
    steps = program.steps_for(channel)
    if cursor >= len(steps):
        return None
    return defer_quiet(nominal_due(steps[cursor], anchor, tz, anchors), tz, quiet)


def first_cursor_after(
    program: Program, channel: str, instant: datetime, anchor: datetime, tz: ZoneInfo, anchors: Anchors = NO_ANCHORS
) -> int:
    """The first step of the channel due at or after `instant` (a channel added mid-program)."""
    steps = program.steps_for(channel)
    for i, step in enumerate(steps):
        if nominal_due(step, anchor, tz, anchors) >= instant:
            return i
    return len(steps)
