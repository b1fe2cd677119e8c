"""Explain an enrollment's schedule: every past and future message, when it was due, when it went
(or will go) and the rule that moved it. Behind `caredrip explain ID` and GET …/schedule.

Read-only, derived from what is stored and from the program: past messages from their records
(state, when, lateness, reason, attempts), future ones planned from the enrollment's cursor with
the same rules the worker applies (`worker.schedule`: due times, quiet hours, caps). What the
records do not say is never guessed: a message that went later than the rules allow, with no
retry on record, says `rule: "unknown"` (a pause that ended, the number's caps shared with another
enrollment, a backlog: none of these leaves a trace on the message's own record).

`rule`: null (it went, or will go, when due), `quiet_hours`, `cap`, `pause`, `retry`, `resend`,
`opt_out`, `cancel`, `channel_removed`, `deadline` (put back unsent when its batch ran out of
time), `catch_up` (its time had passed when the enrollment started, an anchor moved or a pause
ended: the program's catch-up policy skipped it as `late`, or sent it late; worker.catchup),
`anchor` (timed from an anchor a PATCH moved: its time is from the new date), `unknown`. `due_at`
of a step timed from an anchor is from the anchor as it is now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from worker.catchup import LATE, late_indexes
from worker.deps import EngineDeps
from worker.enrollment import get_owned
from worker.errors import ContentError
from worker.optouts import enrollment_opt_outs
from worker.policy import Caps, QuietHours
from worker.programs import INTRO_ID, Program
from worker.records import Channel, Enrollment, EnrollmentState, MessageRecord, MessageState
from worker.routing import blind_index
from worker.schedule import (
    CapHit,
    cap_hit,
    channel_caps,
    channel_dues,
    defer_quiet,
    next_allowed,
    nominal_due,
    resolve_local,
)

SAME_SEND = timedelta(minutes=1)  # a recipient's send this close to one of the enrollment's: the same
ON_TIME = timedelta(minutes=5)  # sent within this of when the rules allowed: on time (dispatch, rate limit)
HANDED = (MessageState.SENT, MessageState.DELIVERED, MessageState.UNDELIVERED)
SKIP_RULES = {
    "opted_out": "opt_out",
    "paused": "pause",
    "canceled": "cancel",
    "dropped": "channel_removed",
    LATE: "catch_up",
}


@dataclass(frozen=True, slots=True)
class Explained:
    """One message: `due_at` the program's time for it; `sent_at` when it was handed to the
    provider; `planned_at` when it will go (None: nothing will send it as things stand)."""

    step: str
    channel: str
    occurrence: int
    state: str  # a MessageState, or `scheduled` (the next, in the due index) / `planned` (later)
    due_at: datetime | None
    sent_at: datetime | None
    planned_at: datetime | None
    local_time: datetime | None  # sent_at, else planned_at, else due_at, in the patient's zone
    rule: str | None
    reason: str
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class Schedule:
    enrollment: Enrollment
    now: datetime
    messages: list[Explained] = field(default_factory=list)


@dataclass(frozen=True)
class _Ctx:
    """What every message's explanation reads."""

    program: Program
    enrollment: Enrollment
    tz: ZoneInfo
    quiet: QuietHours
    caps: Caps
    now: datetime
    shared: dict[str, list[datetime]] = field(default_factory=dict)  # the recipient's sends (8 days), by channel

    def due(self, step_id: str) -> tuple[datetime, datetime] | None:
        """(the program's time, that time out of quiet hours) for a step; None for one unknown."""
        try:
            step = self.program.step(step_id)
        except ContentError:
            return None
        nominal = nominal_due(step, self.enrollment.anchor, self.tz, self.enrollment.anchors)
        return nominal, defer_quiet(nominal, self.tz, self.quiet)

    def catch_up(self, nominal: datetime, skipped: bool) -> tuple[str, str]:
        """The catch-up rule's explanation of a step whose time had passed at the catch-up mark."""
        mark, policy = self.enrollment.catch_up_mark, self.program.catch_up.value
        what = "skipped as late" if skipped else "sent late, one per allowed slot"
        return (
            "catch_up",
            f"due {self.hhmm(nominal)}, already past at {self.hhmm(mark)} (enrolled, an anchor moved or a"
            f" pause ended): catch_up {policy}: {what}",
        )

    def anchor_moved(self, step_id: str, when: datetime | None) -> tuple[str, str] | None:
        """The `anchor` rule for a step timed from an anchor a PATCH moved before `when` (the step's
        send or plan): its time is from the new date. None otherwise."""
        moved = self.enrollment.anchors_moved_at
        if moved is None or when is None or when < moved or step_id == INTRO_ID:
            return None
        try:
            anchor = self.program.step(step_id).anchor
        except ContentError:
            return None
        if anchor is None:
            return None
        return "anchor", f"timed from {anchor}, which the clinic moved at {self.hhmm(moved)}: due from the new date"

    def merged(self, ch: str, own: Sequence[datetime], before: datetime | None = None) -> list[datetime]:
        """The enrollment's sends `own` with its recipient's (kept by the number's record), each once."""
        shared = [x for x in self.shared.get(ch, []) if before is None or x < before]
        return sorted([*shared, *(t for t in own if all(abs(t - x) > SAME_SEND for x in shared))])

    def held_by_cap(
        self, at: datetime, sent: Sequence[datetime], per_day: int | None, per_week: int | None
    ) -> CapHit | None:
        """The cap that was full right up to `at` (or up to the quiet hours that end at `at`), such
        that `at` is the first instant the rules then allowed; None when no cap held it there."""
        earlier = [s for s in sent if s < at - SAME_SEND]
        probe = at - SAME_SEND
        for _ in range(3):
            hit = cap_hit(probe, self.tz, earlier, per_day, per_week)
            if hit is not None:
                allowed = next_allowed(hit.until, self.tz, self.quiet, earlier, per_day, per_week)
                return hit if abs(allowed - at) <= ON_TIME else None
            local = probe.astimezone(self.tz)
            if not self.quiet.contains(local.time()):
                return None
            start_day = local.date() - timedelta(days=1 if local.time() < self.quiet.start else 0)
            probe = resolve_local(start_day, self.quiet.start, self.tz) - SAME_SEND
        return None

    def hhmm(self, instant: datetime) -> str:
        return instant.astimezone(self.tz).strftime("%a %d %b %H:%M")

    def explain_delay(
        self, nominal: datetime, quiet_due: datetime, at: datetime, sent: Sequence[datetime], ch: str
    ) -> tuple[str | None, str]:
        """Why a message went (or goes) at `at` rather than at `nominal`, after the sends `sent`
        of the channel; ("unknown", …) when the rules do not account for it."""
        per_day, per_week = channel_caps(self.caps, ch)
        allowed = next_allowed(quiet_due, self.tz, self.quiet, sent, per_day, per_week)
        whose = "the patient's"
        if at > allowed + ON_TIME and self.shared.get(ch):
            # the recipient's caps count its other enrollments' sends too (the number's record)
            sent = self.merged(ch, sent, before=at - SAME_SEND)  # not this message's own send
            allowed = next_allowed(quiet_due, self.tz, self.quiet, sent, per_day, per_week)
            whose = "the number's (shared with its other enrollments)"
        if at > allowed + ON_TIME:
            held = self.held_by_cap(at, sent, per_day, per_week)
            if held is not None:  # the cap was full up to it (quiet hours may follow): later gaps were taken since
                return "cap", f"{whose} cap ({held.limit} {ch} a {held.unit}) was full until {self.hhmm(held.until)}"
            late = _duration(at - allowed)
            went = "goes" if at > self.now else "went"
            return "unknown", f"{went} {late} later than quiet hours and caps explain; not recorded why"
        if allowed > quiet_due + ON_TIME:
            hit = cap_hit(quiet_due, self.tz, sent, per_day, per_week)
            what = f"{hit.limit} {ch} a {hit.unit}" if hit else f"{ch} caps"
            moved = f"was full at {self.hhmm(quiet_due)}: moved to {self.hhmm(allowed)}"
            return "cap", f"{whose} cap ({what}) {moved}"
        if quiet_due > nominal:
            q = self.quiet
            window = f"{q.start.strftime('%H:%M')}-{q.end.strftime('%H:%M')}"
            return (
                "quiet_hours",
                f"due {self.hhmm(nominal)}, inside quiet hours {window}: moved to {self.hhmm(quiet_due)}",
            )
        return None, ""


def explain(deps: EngineDeps, eid: str, clinic_id: str | None, caps: Caps) -> Schedule:
    """Every message of the enrollment, past then future, in time order; NotFound unless it
    belongs to `clinic_id` (None: operators, any clinic)."""
    e = get_owned(deps, eid, clinic_id)
    shared = {ch: deps.store.recent_sends(bi) for ch, bi in _recipients(deps, e).items()}
    program = deps.catalog.get(e.program, e.version)  # the steps of the version it started on
    ctx = _Ctx(program, e, ZoneInfo(e.timezone), deps.quiet, caps, deps.clock.now(), shared)
    records = deps.store.records(eid)
    entries = deps.store.due_entries(eid, e.channels)
    opt_outs = enrollment_opt_outs(deps.store, e)
    past = _past(ctx, records)
    future: list[Explained] = []
    for ch in e.channels:
        sent = sorted(m.sent_at for m in past if m.channel == ch and m.sent_at is not None)
        waiting = {m.step: m for m in past if m.channel == ch and m.state in ("retrying", "queued", "sending")}
        blocked = _blocked(e, opt_outs.get(ch) is not None or e.opted_out.get(ch, False))
        future += _future(ctx, ch, entries.get(ch, (None, False)), sent, waiting, blocked)
    planned_steps = {(m.step, m.channel) for m in future}
    past = [m for m in past if (m.step, m.channel) not in planned_steps]
    order = {s.id: i for i, s in enumerate(ctx.program.steps)}
    messages = sorted(
        past + future, key=lambda m: (m.local_time is None, m.local_time or e.anchor, order.get(m.step, -1), m.channel)
    )
    return Schedule(e, ctx.now, messages)


def _recipients(deps: EngineDeps, e: Enrollment) -> dict[str, str]:
    """Each channel's recipient by blind index (its number, its address), where it has one."""
    found = {ch: blind_index(deps.index, Channel(ch).address(e.phone, e.email) or "") for ch in e.channels}
    return {ch: bi for ch, bi in found.items() if bi}


def _blocked(e: Enrollment, opted_out: bool) -> tuple[str, str] | None:
    """Why nothing will send the channel's next messages as things stand; None: they will go."""
    if e.state is EnrollmentState.PAUSED:
        return "pause", "the enrollment is paused: due again when it is resumed"
    if opted_out:
        return "opt_out", "the channel is opted out: recorded as skipped when due, never sent"
    return None


def _past(ctx: _Ctx, records: list[MessageRecord]) -> list[Explained]:
    out: list[Explained] = []
    for r in sorted(records, key=lambda r: (r.at is None, r.at or ctx.enrollment.anchor)):
        sent_before = sorted(m.sent_at for m in out if m.channel == r.channel and m.sent_at is not None)
        out.append(_record(ctx, r, sent_before))
    return out


def _record(ctx: _Ctx, r: MessageRecord, sent_before: list[datetime]) -> Explained:
    due = None if r.step == INTRO_ID else ctx.due(r.step)
    sent_at = _sent_at(r, due[1] if due else None)
    rule, reason = _record_rule(ctx, r, due, sent_at, sent_before)
    when = sent_at or r.at or (due[0] if due else None)
    return Explained(
        step=r.step, channel=r.channel, occurrence=r.occurrence, state=r.state.value,
        due_at=due[0] if due else None, sent_at=sent_at, planned_at=None,
        local_time=when.astimezone(ctx.tz) if when else None, rule=rule, reason=reason, attempts=r.attempts,
    )  # fmt: skip


def _sent_at(r: MessageRecord, quiet_due: datetime | None) -> datetime | None:
    """When the message was handed to the provider: a `sent` record's own time; after a status
    callback, its due time plus the lateness recorded at the send."""
    if r.state is MessageState.SENT:
        return r.at
    if r.lateness_seconds is not None and quiet_due is not None and r.state in (*HANDED, MessageState.FAILED):
        return quiet_due + timedelta(seconds=r.lateness_seconds)
    return None


def _record_rule(
    ctx: _Ctx, r: MessageRecord, due: tuple[datetime, datetime] | None, sent_at: datetime | None, sent: list[datetime]
) -> tuple[str | None, str]:
    if r.step == INTRO_ID:
        return None, "introduces the clinic and STOP/HELP to a number reached mid-program"
    if r.occurrence > 1:
        return "resend", f"an operator's resend (occurrence {r.occurrence})"
    if r.state is MessageState.SKIPPED:
        if r.reason == LATE and due is not None:
            return ctx.catch_up(due[0], skipped=True)
        return SKIP_RULES.get(r.reason, "unknown"), f"skipped: {r.reason or 'no reason recorded'}"
    if r.state is MessageState.RETRYING:
        return "retry", f"attempt {r.attempts} refused for now ({r.reason}): tried again after a backoff"
    if r.state is MessageState.QUEUED:
        if r.reason == "deadline":
            return "deadline", "put back unsent when its batch ran out of time: due again at once"
        return "pause", "held by a pause: due again since the resume"
    if sent_at is None or due is None:
        return None, r.reason
    if r.attempts > 1:
        return "retry", f"went at attempt {r.attempts}: the provider refused earlier tries for now"
    mark = ctx.enrollment.catch_up_mark
    delay = ctx.explain_delay(due[0], due[1], sent_at, sent, r.channel)
    if due[0] < mark <= sent_at and delay[0] == "unknown":
        return ctx.catch_up(due[0], skipped=False)
    if delay[0] is None:
        return ctx.anchor_moved(r.step, sent_at) or delay
    return delay


def _future(
    ctx: _Ctx,
    ch: str,
    entry: tuple[datetime | None, bool],
    sent: list[datetime],
    waiting: dict[str, Explained],
    blocked: tuple[str, str] | None,
) -> list[Explained]:
    """The channel's messages from its cursor on: the next at its due-index time, the later ones
    as the worker would send them if each went when allowed."""
    e = ctx.enrollment
    if e.state in (EnrollmentState.CANCELED, EnrollmentState.COMPLETED) or ch not in e.cursor:
        return []
    steps = ctx.program.steps_for(ch)[e.cursor[ch] :]
    dues = channel_dues(ctx.program, ch, e.anchor, ctx.tz, e.anchors)
    late = {i - e.cursor[ch] for i in late_indexes(ctx.program.catch_up, dues, e.catch_up_mark, first=e.cursor[ch])}
    per_day, per_week = channel_caps(ctx.caps, ch)
    own = sorted(e.history.get(ch, []) or sent)  # what the enrollment's own rule counts (worker: history)
    every = ctx.merged(ch, own)  # what the number's caps count: its other enrollments' sends too
    out: list[Explained] = []
    rule: str | None
    for i, step in enumerate(steps):
        due = ctx.due(step.id)
        assert due is not None
        nominal, quiet_due = due
        held = waiting.get(step.id)
        if blocked is not None:
            rule, reason = blocked
            planned = None
        elif i in late:  # the catch-up policy records it skipped when it comes up: never sent
            rule, reason = ctx.catch_up(nominal, skipped=True)
            planned = None
        elif held is not None:
            planned = entry[0] or e.next_due.get(ch) or quiet_due
            rule, reason = (held.rule, held.reason)
        else:  # the next is in the due index; dispatch moves it on to what quiet hours and caps allow
            start = max(entry[0] or e.next_due.get(ch) or quiet_due, quiet_due) if i == 0 else quiet_due
            earliest = max(start, every[-1]) if every and i > 0 else start
            planned = next_allowed(earliest, ctx.tz, ctx.quiet, every, per_day, per_week)
            rule, reason = ctx.explain_delay(nominal, quiet_due, planned, own, ch)
            if nominal < e.catch_up_mark <= planned and rule in (None, "unknown"):
                rule, reason = ctx.catch_up(nominal, skipped=False)
            elif rule is None:
                rule, reason = ctx.anchor_moved(step.id, planned) or (rule, reason)
        if planned is not None:
            own, every = sorted([*own, planned]), sorted([*every, planned])
        state = held.state if held else ("scheduled" if i == 0 else "planned")
        when = planned or nominal
        out.append(Explained(
            step=step.id, channel=ch, occurrence=1, state=state, due_at=nominal, sent_at=None, planned_at=planned,
            local_time=when.astimezone(ctx.tz), rule=rule, reason=reason, attempts=held.attempts if held else 0,
        ))  # fmt: skip
    return out


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


def schedule_json(schedule: Schedule) -> dict[str, Any]:
    """The documented JSON object (README: "Explain a schedule")."""
    e = schedule.enrollment
    return {
        "enrollment_id": e.id,
        "program": e.program,
        "program_version": e.version,
        "state": e.state.value,
        "timezone": e.timezone,
        "now": schedule.now.isoformat(),
        "messages": [
            {
                "step": m.step,
                "channel": m.channel,
                "occurrence": m.occurrence,
                "state": m.state,
                "due_at": _iso(m.due_at),
                "sent_at": _iso(m.sent_at),
                "planned_at": _iso(m.planned_at),
                "local_time": _iso(m.local_time),
                "rule": m.rule,
                "reason": m.reason or None,
                "attempts": m.attempts,
            }
            for m in schedule.messages
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
