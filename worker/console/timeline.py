"""One patient's timeline for the console: every message sent and to come, with the rule that
moved it. Pure: it reads an enrollment, its program, its message records and the quiet hours.

A row per message record (each occurrence: a resend is its own row) and one per step still to
come. The rule is worked out from the schedule itself: a step whose local time falls in quiet
hours was moved to the window's end (`worker.schedule.defer_quiet`); a message sent well after
it was due was held by the caps, the shared rate limit or a backlog; the next message is shown
at the time the due index holds for it.

TODO(explain, branch bulk): when `caredrip explain` lands, take each row's rule from it instead
of the two inferences here (it records which rule moved a message, e.g. a cap by name).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from worker.policy import QuietHours
from worker.programs import Program, Step
from worker.records import Enrollment, EnrollmentState, MessageRecord, MessageState
from worker.schedule import defer_quiet, nominal_due

LATE = timedelta(minutes=2)  # sent later than this after its due time: say what held it
UPCOMING = "upcoming"


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the timeline; `at` is when it happened or is planned (UTC)."""

    step: str
    channel: str
    occurrence: int
    state: str  # a MessageState value, or "upcoming"
    at: datetime | None
    due: datetime | None
    reason: str
    rule: str
    message_id: str = ""


def timeline(enrollment: Enrollment, program: Program, records: list[MessageRecord], quiet: QuietHours) -> list[Row]:
    """Every recorded message and every step still to come, in time order."""
    tz = ZoneInfo(enrollment.timezone)
    by_step: dict[tuple[str, str], list[MessageRecord]] = {}
    for record in records:
        by_step.setdefault((record.step, record.channel), []).append(record)
    rows: list[Row] = []
    for channel in sorted({*enrollment.channels, *(r.channel for r in records)}):
        steps = program.steps_for(channel)
        for index, step in enumerate(steps):
            nominal = nominal_due(step, enrollment.anchor, tz, enrollment.anchors)
            due = defer_quiet(nominal, tz, quiet)
            found = sorted(by_step.pop((step.id, channel), []), key=lambda r: r.occurrence)
            rows.extend(_recorded(r, nominal, due, tz, quiet) for r in found)
            if not found and _to_come(enrollment, channel, index):
                rows.append(_upcoming(enrollment, step, channel, index, nominal, due, tz, quiet))
    for leftover in by_step.values():  # introductions and steps no longer in the program
        rows.extend(_recorded(r, None, None, tz, quiet) for r in leftover)
    far = datetime.max.replace(tzinfo=tz)
    return sorted(rows, key=lambda r: (r.at or r.due or far, r.channel, r.step, r.occurrence))


def _to_come(enrollment: Enrollment, channel: str, index: int) -> bool:
    if enrollment.state not in (EnrollmentState.ACTIVE, EnrollmentState.PAUSED) or channel not in enrollment.channels:
        return False
    return index >= enrollment.cursor.get(channel, 0)


def _quiet_rule(nominal: datetime | None, due: datetime | None, tz: ZoneInfo, quiet: QuietHours) -> str:
    if nominal is None or due is None or due == nominal:
        return ""
    return (
        f"Quiet hours ({quiet.start:%H:%M}–{quiet.end:%H:%M} patient time): moved from "
        f"{nominal.astimezone(tz):%a %H:%M} to {due.astimezone(tz):%a %H:%M}"
    )


def _recorded(
    record: MessageRecord, nominal: datetime | None, due: datetime | None, tz: ZoneInfo, quiet: QuietHours
) -> Row:
    rules = [_quiet_rule(nominal, due, tz, quiet)]
    if record.occurrence > 1:
        rules.append(f"Resent by an operator (occurrence {record.occurrence})")
    late = record.lateness_seconds
    if late is not None and timedelta(seconds=late) > LATE:
        rules.append(f"Sent {_minutes(late)} after it was due: held by the caps, the rate limit or a backlog")
    if record.state is MessageState.SKIPPED and record.reason:
        rules.append(f"Not sent: {record.reason.replace('_', ' ')}")
    return Row(record.step, record.channel, record.occurrence, record.state.value, record.at, due, record.reason,
               "; ".join(r for r in rules if r), record.id)  # fmt: skip


def _upcoming(
    enrollment: Enrollment,
    step: Step,
    channel: str,
    index: int,
    nominal: datetime,
    due: datetime,
    tz: ZoneInfo,
    quiet: QuietHours,
) -> Row:
    rules = [_quiet_rule(nominal, due, tz, quiet)]
    planned = due
    scheduled = enrollment.next_due.get(channel)
    if index == enrollment.cursor.get(channel, 0) and scheduled is not None:
        planned = scheduled
        if scheduled > due + LATE:
            rules.append(f"Held until {scheduled.astimezone(tz):%a %H:%M}: the caps allow no earlier message")
    if enrollment.state is EnrollmentState.PAUSED:
        rules.append("Paused: waits until the enrollment is resumed")
    return Row(step.id, channel, 1, UPCOMING, None, planned, "", "; ".join(r for r in rules if r))


def _minutes(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds < 7200 else f"{seconds // 3600} h {(seconds % 3600) // 60} min"
