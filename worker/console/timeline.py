"""One patient's timeline for the console: every message sent and to come, with the rule that
moved it, taken from `worker.explain` (what `caredrip explain` prints and GET …/schedule
answers), so the CLI, the API and the console say the same thing.

A row per explained message: its local time, state, the rule's code exactly as the API gives it
(`quiet_hours`, `cap`, `pause`, `retry`, `resend`, `opt_out`, `cancel`, …; none: on time) and
explain's reason. Reasons name rules, times and provider codes only: never a body or a name, so
an operator's view stays masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from worker.deps import EngineDeps
from worker.explain import Explained, explain
from worker.policy import Caps
from worker.records import message_id

RECORDED_ONLY = ("scheduled", "planned")  # explain's states of a message that has no record yet
LABELS = {
    None: "On time",
    "quiet_hours": "Quiet hours",
    "cap": "Frequency cap",
    "pause": "Paused",
    "retry": "Retry",
    "resend": "Resent by an operator",
    "opt_out": "Opted out",
    "cancel": "Canceled",
    "channel_removed": "Channel removed",
    "deadline": "Put back unsent",
    "catch_up": "Catch-up (late)",
    "anchor": "Its date was moved",
    "unknown": "Not recorded",
}


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the timeline: `at` when it went (or is planned, or was due), UTC."""

    step: str
    channel: str
    occurrence: int
    state: str  # a MessageState value, `scheduled` (next, in the due index) or `planned` (later)
    at: datetime | None
    rule: str | None  # explain's rule code, as GET …/schedule answers it
    reason: str
    message_id: str = ""

    @property
    def label(self) -> str:
        return LABELS.get(self.rule, self.rule or "On time")


def timeline(deps: EngineDeps, eid: str, clinic_id: str | None, caps: Caps) -> list[Row]:
    """The enrollment's messages in time order (NotFound unless it belongs to `clinic_id`; None:
    an operator, any clinic)."""
    return [_row(eid, m) for m in explain(deps, eid, clinic_id, caps).messages]


def _row(eid: str, m: Explained) -> Row:
    at = m.sent_at or m.planned_at or m.due_at
    mid = "" if m.state in RECORDED_ONLY else message_id(eid, m.step, m.channel, m.occurrence)
    return Row(m.step, m.channel, m.occurrence, m.state, at, m.rule, m.reason, mid)
