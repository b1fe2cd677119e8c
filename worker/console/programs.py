"""Programs: a calendar of a program for a chosen time zone, language and channels, each message
rendered as the patient will read it (`worker.simulate`, the real templates and schedule), with
its SMS segments and encoding, its reading grade (`worker.lint.words.cached_grade`, as lint
counts it) and the lint findings about that message beside it.

Lint runs once per process and content (`caredrip lint`'s own `lint_content`); its findings name
`<program>/<language>/<step>.<sms|email|subject>`, which is how each is put beside its message.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from worker.clock import utc
from worker.console.auth import Who
from worker.console.deps import Console, console
from worker.console.views import PageError, page
from worker.errors import ContentError
from worker.lint.report import lint_content
from worker.lint.words import cached_grade, email_words
from worker.policy import Caps, QuietHours
from worker.programs import Program
from worker.records import CHANNELS
from worker.schedule import valid_timezone
from worker.simulate import simulate

router = APIRouter(prefix="/console/programs", include_in_schema=False)
Ctx = Annotated[Console, Depends(console)]
DAYS = 366
DEFAULT_ZONE = "America/New_York"
ENROLLED_AT = time(10, 0)  # the sample patient enrolls at 10:00 their time on the chosen day


_linted: dict[str, tuple[str, ...]] = {}


def _lint(content_dir: Path, templates_dir: Path, quiet: QuietHours, caps: Caps) -> tuple[str, ...]:
    """`caredrip lint`'s problems, once per process and (content, templates, policy)."""
    key = repr((content_dir, templates_dir, quiet, caps))
    if key not in _linted:
        _linted[key] = tuple(lint_content(content_dir, templates_dir, quiet, caps).problems)
    return _linted[key]


def findings(c: Console, program: Program) -> list[str]:
    """Every lint finding that names the program."""
    caps = c.delivery().caps
    problems = _lint(c.content_dir().resolve(), c.templates_dir().resolve(), c.engine().quiet, caps)
    return [p for p in problems if p.startswith(f"{program.id}/") or f"/{program.id}/" in p]


def _program(c: Console, pid: str) -> Program:
    try:
        return c.engine().catalog.get(pid)
    except ContentError:
        raise PageError(404, "No such program", f"There is no program {pid[:60]!r}.") from None


@router.get("")
def programs(who: Who, c: Ctx) -> Response:
    catalog = c.engine().catalog
    listed = []
    for pid in catalog.ids():
        try:
            listed.append(catalog.get(pid))
        except ContentError:
            continue
    return page("programs.html", who=who, csrf=who.csrf, nav="programs", programs=listed, zone=DEFAULT_ZONE)


def _choices(request: Request, program: Program, today: date) -> tuple[str, str, list[str], date]:
    """(zone, language, channels, start day) from the query; a 422 page naming a bad one."""
    query = request.query_params
    zone = query.get("timezone", DEFAULT_ZONE).strip() or DEFAULT_ZONE
    try:
        valid_timezone(zone)
    except ValueError:
        raise PageError(422, "Unknown time zone", f"timezone: {zone[:60]!r} is not an IANA zone "
                        "(e.g. America/New_York).") from None  # fmt: skip
    language = query.get("language", program.languages[0])
    if language not in program.languages:
        raise PageError(422, "Unknown language", f"language: this program has {', '.join(program.languages)}.")
    channels = [str(ch) for ch in CHANNELS if ch in query.getlist("channels")] or [str(ch) for ch in CHANNELS]
    if any(ch not in CHANNELS for ch in query.getlist("channels")):
        raise PageError(422, "Unknown channel", f"channels: one or more of {', '.join(CHANNELS)}.")
    start = query.get("start", "")
    try:
        day = date.fromisoformat(start) if start else today
    except ValueError:
        raise PageError(422, "Not a date", "start: a day as YYYY-MM-DD.") from None
    return zone, language, channels, day


def _days(result: dict[str, Any], program: Program, language: str, lint: list[str]) -> list[Any]:
    """The simulated messages grouped by local day, each with its grade and lint findings."""
    days: dict[str, dict[str, Any]] = {}
    for message in result["messages"]:
        local = datetime.fromisoformat(message["local_time"])
        keys = ("sms",) if message["channel"] == "sms" else ("email", "subject")
        where = tuple(f"{program.id}/{language}/{message['step']}.{k}" for k in keys)
        text = message["body"] if message["channel"] == "sms" else email_words(message["body"])
        day = days.setdefault(local.date().isoformat(), {"date": local.date(), "messages": []})
        day["messages"].append({**message, "local": local, "grade": cached_grade(text, language, None),
                                "findings": [p for p in lint if p.startswith(where)]})  # fmt: skip
    return list(days.values())


@router.get("/{pid}")
def calendar(pid: str, request: Request, who: Who, c: Ctx) -> Response:
    program = _program(c, pid)
    now = c.engine().clock.now()
    zone, language, channels, day = _choices(request, program, now.astimezone(valid_timezone(DEFAULT_ZONE)).date())
    tz = valid_timezone(zone)
    start = utc(datetime.combine(day, ENROLLED_AT, tzinfo=tz))
    delivery = c.delivery()
    result = simulate(program, delivery.renderer, timezone=zone, language=language, channels=channels, start=start,
                      days=DAYS, quiet=c.engine().quiet, caps=delivery.caps, context={})  # fmt: skip
    lint = findings(c, program)
    days = _days(result, program, language, lint)
    placed = {f for d in days for m in d["messages"] for f in m["findings"]}
    values: dict[str, Any] = {"who": who, "csrf": who.csrf, "nav": "programs", "program": program, "zone": zone,
              "language": language, "channels": channels, "start": day, "days": days,
              "other_findings": [p for p in lint if p not in placed and f"/{language}/" not in p],
              "all_channels": CHANNELS, "count": sum(len(d["messages"]) for d in days), "enrolled_at": ENROLLED_AT,
              "end": day + timedelta(days=DAYS)}  # fmt: skip
    return page("calendar.html", **values)
