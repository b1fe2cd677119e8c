"""The content checks behind `caredrip lint`: every program, every language, every step.

`lint_content` loads each program under the content dir and reports, one line each, what would
hurt a patient or break the contract: a template that does not render, an SMS over its segment
budget (with long realistic sample values and the real first name: needing the fallback name is a
problem too), English SMS that is not GSM-7, a first SMS without the sender and STOP / HELP,
steps out of time order or inside quiet hours, a step that the frequency caps would hold back for
some enrollment time, a missing translation, and English above grade 8. Problem lines read
`<program>/<lang>/<step>.<key>: <rule>: <detail>` for words and `<file>: <step>: <rule>: <detail>`
for timing; each names its rule (`render error`, `over budget`, `not GSM-7`, `first SMS`,
`out of order`, `quiet hours`, `caps`, `missing translation`, `reading level`).

The caps rule runs the scheduler's own `plan_channel` over a grid of enrollment instants (twice an
hour and a minute either side of each step time and quiet-hours edge, on every enrollment day that
puts a DST change inside the program, in zones of both hemispheres and one with a half-hour offset).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

from worker.errors import ContentError, RenderError
from worker.policy import Caps, QuietHours
from worker.programs import Program, Step, list_programs, load_program
from worker.readability import grade_level
from worker.render import RenderedEmail, RenderedSms, Renderer, split_blocks
from worker.schedule import PlannedMessage, cap_hit, channel_caps, defer_quiet, plan_channel, resolve_local
from worker.segments import GSM7, is_gsm7

SAMPLE_FIRST_NAME = "Alexandrina"
SAMPLE_CLINIC_NAMES = {"en": "Riverside Family Health Clinic", "es": "Clínica Familiar Riverside"}
SAMPLE_CLINIC_PHONE = "+1 (555) 010-2345"
SAMPLE_UNSUBSCRIBE_URL = "https://caredrip.example.org/unsubscribe/c2FtcGxlLWVucm9sbG1lbnQ.Zm9yLWxpbnQ"
STOP_HELP_EN = "Reply STOP to opt out, HELP for help"
MAX_ENGLISH_GRADE = 8.0

CAP_ZONES = ("America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata")
GRID_YEAR = 2026
GRID_MINUTES = (1, 31)  # enrollment at hh:01 and hh:31: just after each whole and half hour
_CHANNEL_NAMES = {"sms": "SMS"}
_UNBOUNDED = 1_000_000
_MINUTES_A_DAY = 24 * 60


@dataclass
class LintReport:
    """`problems`: one line per thing to fix (lint fails if any); `summary`: information lines."""

    problems: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def lint_content(
    content_dir: Path,
    templates_dir: Path,
    quiet: QuietHours,
    caps: Caps,
    *,
    readability_dir: Path | None = None,
) -> LintReport:
    """Check every program under `content_dir` against the templates under `templates_dir`."""
    report = LintReport()
    program_ids = list_programs(content_dir)
    if not program_ids:
        report.problems.append(f"{content_dir}: no programs found (expected <program>/program.yaml)")
    renderer = Renderer(templates_dir)
    for program_id in program_ids:
        try:
            program = load_program(content_dir, program_id)
        except ContentError as exc:
            report.problems.append(str(exc))
            continue
        linter = _ProgramLinter(program, content_dir / program_id / "program.yaml", renderer, readability_dir)
        linter.check_schedule(quiet, caps)
        for language in program.languages:
            linter.check_language(language)
        report.problems.extend(linter.problems)
        report.summary.extend(linter.summary)
    return report


def realistic_context(program: Program, language: str) -> dict[str, str]:
    """Long, realistic values for every template variable, in `language` where it matters."""
    return {
        "first_name": SAMPLE_FIRST_NAME,
        "clinic_name": SAMPLE_CLINIC_NAMES.get(_root(language), SAMPLE_CLINIC_NAMES["en"]),
        "clinic_phone": SAMPLE_CLINIC_PHONE,
        "program_name": program.name,
        "unsubscribe_url": SAMPLE_UNSUBSCRIBE_URL,
    }


class _ProgramLinter:
    """Collects the problems and summary lines of one loaded program."""

    def __init__(self, program: Program, path: Path, renderer: Renderer, readability_dir: Path | None) -> None:
        self.program = program
        self.path = path
        self.renderer = renderer
        self.readability_dir = readability_dir
        # The same words with no budget: the renderer never swaps in the fallback name, so the
        # segments counted are those of the real sample name.
        self.unbounded = dataclasses.replace(
            program, sms_segment_budget={lang: _UNBOUNDED for lang in program.languages}
        )
        self.problems: list[str] = []
        self.summary: list[str] = []
        self._template_errors: set[str] = set()

    # --- timing: language independent -------------------------------------------------------

    def check_schedule(self, quiet: QuietHours, caps: Caps) -> None:
        self.problems.extend(order_problems(self.program, self.path))
        self.problems.extend(quiet_problems(self.program, self.path, quiet))
        problems, plans = cap_problems(self.program, self.path, quiet, caps)
        self.problems.extend(problems)
        if plans:
            self.summary.append(
                f"{self.program.id}: caps checked over {plans} enrollment times in {', '.join(CAP_ZONES)}"
            )

    # --- words: per language -----------------------------------------------------------------

    def check_language(self, language: str) -> None:
        context = realistic_context(self.program, language)
        sms_costs: list[RenderedSms] = []
        grades: list[float] = []
        first_sms = next(iter(self.program.steps_for("sms")), None)
        for step in self.program.steps:
            if "sms" in step.channels:
                sms = self._check_sms(step, language, context, first=step is first_sms)
                if sms is not None:
                    sms_costs.append(sms)
                    grades.append(self._check_grade(step, language, "sms", sms.body))
            if "email" in step.channels:
                email = self._render_email(step, language, context)
                if email is not None:
                    grades.append(self._check_grade(step, language, "email", email_words(email.text)))
        self._summarize(language, sms_costs, grades)

    def _check_sms(self, step: Step, language: str, context: dict[str, str], *, first: bool) -> RenderedSms | None:
        where = _where(self.program, language, step.id, "sms")
        try:
            sms = self.renderer.sms(self.unbounded, step.id, language, context)
        except RenderError as exc:
            self._render_failed(where, exc)
            return None
        fits = sms.segments > self.program.sms_segment_budget[language] and self._fits_with_fallback(
            step, language, context
        )
        self.problems.extend(
            f"{where}: {p}" for p in sms_problems(sms, self.program, language, fits_with_fallback=fits)
        )
        if first:
            self.problems.extend(f"{where}: first SMS: {p}" for p in first_sms_problems(sms.body, language, context))
        return sms

    def _fits_with_fallback(self, step: Step, language: str, context: dict[str, str]) -> bool:
        sent = self.renderer.sms(self.program, step.id, language, context)
        return sent.fallback and sent.segments <= self.program.sms_segment_budget[language]

    def _render_email(self, step: Step, language: str, context: dict[str, str]) -> RenderedEmail | None:
        try:
            return self.renderer.email(self.program, step.id, language, context)
        except RenderError as exc:
            self._render_failed(_where(self.program, language, step.id, "email"), exc)
            return None

    def _render_failed(self, where: str, exc: RenderError) -> None:
        """One line per broken step string; a broken template file is reported once, not per step."""
        message = str(exc)
        if message.startswith("templates/"):
            if message in self._template_errors:
                return
            self._template_errors.add(message)
        self.problems.append(_render_problem(where, exc))

    def _check_grade(self, step: Step, language: str, key: str, text: str) -> float:
        grade = cached_grade(text, language, self.readability_dir)
        if _root(language) == "en" and grade > MAX_ENGLISH_GRADE:
            where = _where(self.program, language, step.id, key)
            self.problems.append(f"{where}: reading level: grade {grade:.1f}, above {MAX_ENGLISH_GRADE:g}")
        return grade

    def _summarize(self, language: str, costs: Sequence[RenderedSms], grades: Sequence[float]) -> None:
        prefix = f"{self.program.id}/{language}"
        if costs:
            total = sum(s.segments for s in costs)
            ucs2 = sum(1 for s in costs if s.encoding != GSM7)
            self.summary.append(
                f"{prefix}: {len(costs)} SMS cost {_plural(total, 'segment')} per patient"
                f" (max {max(s.segments for s in costs)} per message, budget"
                f" {self.program.sms_segment_budget[language]}; {ucs2} of {len(costs)} UCS-2)"
            )
        if grades:
            limit = f" (limit {MAX_ENGLISH_GRADE:g})" if _root(language) == "en" else " (information only)"
            self.summary.append(f"{prefix}: reading grade up to {max(grades):.1f}{limit}")


# --- the rules, as functions of plain values ------------------------------------------------


def sms_problems(sms: RenderedSms, program: Program, language: str, *, fits_with_fallback: bool = False) -> list[str]:
    """Budget and encoding of one SMS rendered with the real sample name (never the fallback)."""
    problems: list[str] = []
    budget = program.sms_segment_budget[language]
    if sms.segments > budget:
        note = (
            f" (fits only with the fallback name {program.fallback_first_name[language]!r})"
            if fits_with_fallback
            else ""
        )
        problems.append(
            f"over budget: {sms.segments} segments ({sms.encoding}, {len(sms.body)} characters)"
            f" with first_name {SAMPLE_FIRST_NAME!r}, budget {budget}{note}"
        )
    if _root(language) == "en" and sms.encoding != GSM7:
        odd = "".join(sorted({ch for ch in sms.body if not is_gsm7(ch)}))
        codes = ", ".join(f"U+{ord(ch):04X}" for ch in odd)
        problems.append(f"not GSM-7: {odd!r} ({codes}) makes it UCS-2; English SMS must be GSM-7")
    return problems


def first_sms_problems(body: str, language: str, context: dict[str, str]) -> list[str]:
    """The first SMS names the sender and says how to opt out and get help."""
    problems: list[str] = []
    if context["clinic_name"] not in body:
        problems.append(f"does not name the sender ({{{{ clinic_name }}}}, e.g. {context['clinic_name']!r})")
    if _root(language) == "en":
        if STOP_HELP_EN not in body:
            problems.append(f"does not say {STOP_HELP_EN!r}")
    else:
        missing = [word for word in ("STOP", "HELP") if word not in body]
        if missing:
            problems.append(f"lacks the keyword{'s' if len(missing) > 1 else ''} {' and '.join(missing)}")
    return problems


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
        for tz, anchor in enrollment_grid(program, quiet):
            plans += 1
            plan = plan_channel(program, channel, anchor, tz, quiet, caps)
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


def enrollment_grid(program: Program, quiet: QuietHours) -> Iterator[tuple[ZoneInfo, datetime]]:
    """Enrollment instants to plan from, per zone: each day that puts a DST change inside the program
    (and one ordinary day), at every time of day in `enrollment_times`."""
    span = _program_days(program)
    times = enrollment_times(program, quiet)
    for name in CAP_ZONES:
        tz = ZoneInfo(name)
        for day in _enrollment_days(name, span):
            for at in times:
                yield tz, resolve_local(day, at, tz)


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
    last_day = max((s.day for s in program.steps if s.day is not None), default=0)
    last_relative = max((s.after_minutes for s in program.steps if s.after_minutes is not None), default=0)
    return max(last_day, -(-last_relative // _MINUTES_A_DAY)) + 1


# --- helpers --------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def cached_grade(text: str, language: str, data_dir: Path | None) -> float:
    """`grade_level`, once per text: lint reruns (tests, editors) cost nothing."""
    return grade_level(text, language, data_dir=data_dir)


def email_words(text: str) -> str:
    """The step's own words from a rendered plain-text email: the footer cut, each list item a sentence."""
    body = text.split("\n--\n", 1)[0]
    sentences: list[str] = []
    for block in split_blocks(body):
        for item in block.items:
            item = item.strip()
            sentences.append(item if item.endswith((".", "!", "?", ":")) else f"{item.rstrip(',;')}.")
    return " ".join(sentences)


def describe(step: Step) -> str:
    if step.after_minutes is not None:
        return f"{step.after_minutes} minutes after enrollment"
    assert step.at is not None
    return f"day {step.day} at {step.at:%H:%M}"


def _can_precede(step: Step, prev: Step) -> bool:
    """Whether `step` can be due before `prev` (enrollment may be at any minute of day 0)."""
    if step.after_minutes is not None and prev.after_minutes is not None:
        return step.after_minutes < prev.after_minutes
    return _minutes(step)[0] < _minutes(prev)[1]


def _minutes(step: Step) -> tuple[int, int]:
    """Earliest and latest minute after local midnight of day 0 at which `step` can be due."""
    if step.after_minutes is not None:
        return step.after_minutes, step.after_minutes + _MINUTES_A_DAY - 1
    assert step.day is not None and step.at is not None
    minute = step.day * _MINUTES_A_DAY + step.at.hour * 60 + step.at.minute
    return minute, minute


def _render_problem(where: str, exc: RenderError) -> str:
    """`<where>: render error: <detail>`, using the renderer's own location when it names one."""
    message = str(exc)
    prefix = where.rsplit(".", 1)[0] + "."
    if message.startswith(prefix) and ": " in message:
        location, detail = message.split(": ", 1)
        return f"{location}: render error: {detail}"
    return f"{where}: render error: {message}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _where(program: Program, language: str, step_id: str, key: str) -> str:
    return f"{program.id}/{language}/{step_id}.{key}"


def _root(language: str) -> str:
    return language.replace("-", "_").split("_", 1)[0].lower()


def _local(instant: datetime, tz: ZoneInfo) -> str:
    return instant.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
