"""`lint_content`: every program under the content dir, checked by the words rules in every
language and by the timing rules once, collected into one `LintReport`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from worker.errors import ContentError, RenderError
from worker.lint.safety import lint_red_flags, lint_reply_texts
from worker.lint.timing import CAP_ZONES, cap_problems, order_problems, quiet_problems
from worker.lint.versions import version_problems
from worker.lint.words import (
    MAX_ENGLISH_GRADE,
    SAMPLE_CLINIC_NAMES,
    SAMPLE_CLINIC_PHONE,
    cached_grade,
    email_words,
    first_sms_problems,
    language_root,
    plural,
    realistic_context,
    render_problem,
    sms_problems,
    step_location,
)
from worker.policy import Caps, QuietHours
from worker.program_versions import frozen_versions
from worker.programs import INTRO_STEP, Program, Step, list_programs, load_program
from worker.render import RenderedEmail, RenderedSms, Renderer
from worker.segments import GSM7

_UNBOUNDED = 1_000_000


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
        _check_versions(report, content_dir, program, renderer, readability_dir)
    report.problems.extend(lint_red_flags(content_dir))
    report.problems.extend(
        lint_reply_texts(
            content_dir,
            clinic_names=SAMPLE_CLINIC_NAMES,
            clinic_phone=SAMPLE_CLINIC_PHONE,
            grade=lambda text, language: cached_grade(text, language, readability_dir),
        )
    )
    return report


def _check_versions(
    report: LintReport, content_dir: Path, program: Program, renderer: Renderer, readability_dir: Path | None
) -> None:
    """The version rules (worker.lint.versions), then the words of each older version's steps:
    today's strings word them too, so a step only an older version has must still render, fit
    and read well in every language (a problem already found for the current steps is not repeated)."""
    problems, summary = version_problems(content_dir / program.id)
    report.problems.extend(problems)
    report.summary.extend(summary)
    for version in (v for v in frozen_versions(content_dir / program.id) if v < program.version):
        try:
            older = load_program(content_dir, program.id, version)
        except ContentError as exc:
            report.problems.append(f"{exc} (version {version})")
            continue
        linter = _ProgramLinter(older, content_dir / program.id / "program.yaml", renderer, readability_dir)
        for language in older.languages:
            linter.check_language(language)
        report.problems.extend(p for p in linter.problems if p not in report.problems)


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
        if first_sms is not None and language in self.program.intro:  # its own words, else the first SMS's
            intro = self._check_sms(INTRO_STEP, language, context, first=True)  # like a first SMS, not per patient
            if intro is not None:
                grades.append(self._check_grade(INTRO_STEP, language, "sms", intro.body))
        self._summarize(language, sms_costs, grades)

    def _check_sms(self, step: Step, language: str, context: dict[str, str], *, first: bool) -> RenderedSms | None:
        where = step_location(self.program, language, step.id, "sms")
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
            self._render_failed(step_location(self.program, language, step.id, "email"), exc)
            return None

    def _render_failed(self, where: str, exc: RenderError) -> None:
        """One line per broken step string; a broken template file is reported once, not per step."""
        message = str(exc)
        if message.startswith("templates/"):
            if message in self._template_errors:
                return
            self._template_errors.add(message)
        self.problems.append(render_problem(where, exc))

    def _check_grade(self, step: Step, language: str, key: str, text: str) -> float:
        grade = cached_grade(text, language, self.readability_dir)
        if language_root(language) == "en" and grade > MAX_ENGLISH_GRADE:
            where = step_location(self.program, language, step.id, key)
            self.problems.append(f"{where}: reading level: grade {grade:.1f}, above {MAX_ENGLISH_GRADE:g}")
        return grade

    def _summarize(self, language: str, costs: Sequence[RenderedSms], grades: Sequence[float]) -> None:
        prefix = f"{self.program.id}/{language}"
        if costs:
            total = sum(s.segments for s in costs)
            ucs2 = sum(1 for s in costs if s.encoding != GSM7)
            self.summary.append(
                f"{prefix}: {len(costs)} SMS cost {plural(total, 'segment')} per patient"
                f" (max {max(s.segments for s in costs)} per message, budget"
                f" {self.program.sms_segment_budget[language]}; {ucs2} of {len(costs)} UCS-2)"
            )
        if grades:
            limit = f" (limit {MAX_ENGLISH_GRADE:g})" if language_root(language) == "en" else " (information only)"
            self.summary.append(f"{prefix}: reading grade up to {max(grades):.1f}{limit}")
