"""A patient's whole timeline, offline: what `caredrip simulate` prints.

`simulate` plans the timeline with `worker.schedule.plan_timeline`, the same code the worker
uses (due times, DST, quiet hours, caps as if every send went out when allowed), renders every
message with the real templates, and returns the JSON object documented in DESIGN ("What
operators and tests read"). `format_table` turns that object into a table for people.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from worker.catchup import LATE
from worker.clock import utc
from worker.policy import Caps, QuietHours
from worker.programs import Program
from worker.records import CHANNELS
from worker.render import Renderer
from worker.schedule import PlannedMessage, plan_timeline, valid_timezone

SAMPLE_CONTEXT: dict[str, str] = {
    "first_name": "Ana",
    "clinic_name": "Your Clinic",
    "clinic_phone": "+1 555 010 0000",
}
SAMPLE_UNSUBSCRIBE_URL = "http://localhost:8000/unsubscribe/sample"
_TABLE_WIDTH = 100
_EMAIL_PREVIEW_LINES = 2


def sample_context(program: Program, **overrides: str) -> dict[str, str]:
    """Sample values for every template variable; `overrides` (e.g. first_name) win."""
    return {
        **SAMPLE_CONTEXT,
        "program_name": program.name,
        "unsubscribe_url": SAMPLE_UNSUBSCRIBE_URL,
        **overrides,
    }


def simulate(
    program: Program,
    renderer: Renderer,
    *,
    timezone: str,
    language: str,
    channels: Sequence[str],
    start: datetime,
    days: int,
    quiet: QuietHours,
    caps: Caps,
    context: dict[str, str],
    anchors: Mapping[str, datetime] | None = None,
) -> dict[str, object]:
    """Every message sent before `start + days`, in send order, rendered; see the module docstring.

    `context` is laid over the sample values, so an empty one renders with "Ana" at "Your Clinic".
    A program timed from anchors needs each (`anchors`, e.g. the visit); an anchored step already
    past at `start` is late, and the program's catch-up policy sends or skips it (worker.catchup):
    skipped ones are listed under `skipped` (only when there are any), and the anchors under
    `anchors` (only for a program that has some).
    Raises ValueError for an unknown zone, language, channel or anchor, a missing anchor, or a naive
    `start` or anchor.
    """
    tz = valid_timezone(timezone)
    _check_choices(program, language, channels)
    dates = _check_anchors(program, anchors or {})
    anchor = utc(start)
    end = anchor + timedelta(days=days)
    values = sample_context(program, **context)
    timeline = plan_timeline(program, channels, anchor, tz, quiet, caps, dates)
    planned = [m for m in timeline if m.send_at < end and not m.skipped]
    result: dict[str, object] = {
        "program": program.id,
        "timezone": timezone,
        "language": language,
        "channels": list(channels),
        "start": anchor.astimezone(tz).isoformat(),
        "messages": [_message(program, renderer, m, tz, language, values) for m in planned],
    }
    if program.anchors:
        result["anchors"] = {name: at.astimezone(tz).isoformat() for name, at in dates.items()}
        result["catch_up"] = program.catch_up.value
    skipped = [m for m in timeline if m.skipped]
    if skipped:
        result["skipped"] = [
            {"step": m.step.id, "channel": m.channel, "due_time": m.due_at.astimezone(tz).isoformat(), "reason": LATE}
            for m in skipped
        ]
    return result


def _check_anchors(program: Program, anchors: Mapping[str, datetime]) -> dict[str, datetime]:
    for name in anchors:
        if name not in program.anchors:
            declared = ", ".join(program.anchors) or "none"
            raise ValueError(f"anchors.{name}: program {program.id} has no such date (its anchors: {declared})")
    for name in program.anchors:
        if name not in anchors:
            raise ValueError(f"anchors.{name}: program {program.id} is timed from it: give --anchor {name}=<ISO 8601>")
    return {name: utc(at) for name, at in anchors.items()}


def _check_choices(program: Program, language: str, channels: Sequence[str]) -> None:
    if language not in program.languages:
        raise ValueError(f"program {program.id} has no language {language!r} (it has {', '.join(program.languages)})")
    unknown = [ch for ch in channels if ch not in CHANNELS]
    if unknown or not channels:
        raise ValueError(
            f"channels: expected one or more of {', '.join(CHANNELS)}, got {', '.join(channels) or 'none'}"
        )


def _message(
    program: Program, renderer: Renderer, planned: PlannedMessage, tz: ZoneInfo, language: str, context: dict[str, str]
) -> dict[str, object]:
    message: dict[str, object] = {
        "step": planned.step.id,
        "channel": planned.channel,
        "local_time": planned.send_at.astimezone(tz).isoformat(),
        "utc_time": planned.send_at.isoformat(),
    }
    message.update(_RENDERED[planned.channel](renderer, program, planned.step.id, language, context))
    return message


def _sms_fields(
    renderer: Renderer, program: Program, step_id: str, language: str, context: dict[str, str]
) -> dict[str, object]:
    sms = renderer.sms(program, step_id, language, context)
    return {"body": sms.body, "segments": sms.segments, "encoding": sms.encoding}


def _email_fields(
    renderer: Renderer, program: Program, step_id: str, language: str, context: dict[str, str]
) -> dict[str, object]:
    email = renderer.email(program, step_id, language, context)
    return {"body": email.text, "subject": email.subject}


_RENDERED = {"sms": _sms_fields, "email": _email_fields}


def format_table(result: dict[str, Any]) -> str:
    """The simulation for people: one row per message (local time, channel, step, cost), then its text."""
    messages: list[dict[str, Any]] = result["messages"]
    start = datetime.fromisoformat(result["start"])
    lines = [
        f"{result['program']} · {result['timezone']} · {result['language']} · {', '.join(result['channels'])}"
        f" · from {_when(start)} · {len(messages)} message{'' if len(messages) == 1 else 's'}",
        "",
    ]
    for message in messages:
        lines.append(_row(message))
        lines.extend(_text_lines(message))
        lines.append("")
    for skip in result.get("skipped", []):
        due = datetime.fromisoformat(skip["due_time"])
        lines.append(
            f"{_when(due)}  {skip['channel']:<5}  {skip['step']:<24} skipped: late (catch_up {result['catch_up']})"
        )
    return "\n".join(lines).rstrip() + "\n"


def _row(message: dict[str, Any]) -> str:
    local = datetime.fromisoformat(message["local_time"])
    cost = f"{message['segments']} seg {message['encoding']}" if "segments" in message else ""
    return f"{_when(local)}  {message['channel']:<5}  {message['step']:<24} {cost}".rstrip()


def _text_lines(message: dict[str, Any]) -> list[str]:
    indent = "    "
    if "subject" not in message:  # SMS: the whole text
        return textwrap.wrap(message["body"], _TABLE_WIDTH, initial_indent=indent, subsequent_indent=indent)
    preview = [line.strip() for line in message["body"].splitlines() if line.strip()][:_EMAIL_PREVIEW_LINES]
    return [f"{indent}Subject: {message['subject']}"] + [f"{indent}{line}" for line in preview] + [f"{indent}…"]


def _when(instant: datetime) -> str:
    return instant.strftime("%a %Y-%m-%d %H:%M %z")
