"""`caredrip lint`'s checks: the shipped content passes; each broken fixture fails on its own rule."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from worker.lint import LintReport, lint_content
from worker.lint.timing import broken_cap
from worker.lint.words import email_words
from worker.policy import Caps, QuietHours
from worker.schedule import defer_caps

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "content"
TEMPLATES = ROOT / "templates"
BROKEN = ROOT / "tests" / "fixtures" / "content_broken"
QUIET = QuietHours(clock_time(21, 0), clock_time(8, 0))
CAPS = Caps({"sms": 1}, {"sms": 3})

# fixture folder -> the rule's words in a problem line
RULES = {
    "render_error": "render error:",
    "over_budget": "over budget:",
    "not_gsm7": "not GSM-7:",
    "quiet_hours": "quiet hours:",
    "caps": "caps:",
    "missing_translation": "missing translation",
    "reading_level": "reading level:",
    "first_sms_no_stop": "first SMS:",
    "out_of_order": "out of order:",
    "frozen_version": "version:",
}
# fixture folder -> the step (or file) each problem line must name
NAMED = {
    "render_error": ["render-error/en/tip.sms: render error: 'patient_name' is undefined"],
    "over_budget": ["over-budget/en/tip.sms: ", "over-budget/en/long-tip.sms: "],
    "not_gsm7": ["not-gsm7/en/tip.sms: not GSM-7: '’' (U+2019)"],
    "quiet_hours": ["quiet-hours/program.yaml: tip: quiet hours: 22:30 local"],
    "caps": ["caps/program.yaml: tip-evening.sms: caps: breaks the cap of 1 SMS a local day"],
    "missing_translation": ["missing-translation/strings/es.yaml: tip: missing translation"],
    "reading_level": ["reading-level/en/tip.sms: reading level: grade "],
    "first_sms_no_stop": ["first-sms-no-stop/en/welcome.sms: first SMS: does not say 'Reply STOP to opt out"],
    "out_of_order": ["out-of-order/program.yaml: tip-early: out of order: day 3 at 10:00"],
    "frozen_version": ["frozen-version/versions/1.yaml: version: edited after release: its steps no longer match"],
}


@pytest.fixture(scope="module")
def nltk_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nltk_data")


def lint(content: Path, nltk_dir: Path, templates: Path = TEMPLATES, caps: Caps = CAPS) -> LintReport:
    return lint_content(content, templates, QUIET, caps, readability_dir=nltk_dir)


def test_shipped_content_passes(nltk_dir: Path) -> None:
    lint(CONTENT, nltk_dir)  # the first run writes the reading-level corpus
    report = lint(CONTENT, nltk_dir)
    assert report.problems == []
    assert report.ok
    assert "twitching/en: 11 SMS cost 11 segments per patient (max 1 per message, budget 1; 0 of 11 UCS-2)" in (
        report.summary
    )
    spanish = [line for line in report.summary if line.startswith("twitching/es: 11 SMS cost ")]
    assert len(spanish) == 1 and "budget 2" in spanish[0]
    assert any(line.startswith("twitching: caps checked over ") for line in report.summary)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_broken_fixture_fails_on_its_rule_only(rule: str, nltk_dir: Path) -> None:
    report = lint(BROKEN / rule, nltk_dir)
    assert report.problems, f"{rule}: no problem found"
    for line in report.problems:
        assert "\n" not in line
        named = [other for other, words in RULES.items() if words in line]
        assert named == [rule], f"{rule}: unexpected problem line {line!r}"
    for expected in NAMED[rule]:
        assert any(expected in line for line in report.problems), f"{rule}: no line with {expected!r}"
    assert len(report.problems) == len(NAMED[rule])


def test_every_rule_has_a_fixture() -> None:
    assert sorted(p.name for p in BROKEN.iterdir() if p.is_dir()) == sorted(RULES)


def test_over_budget_says_when_only_the_fallback_fits(nltk_dir: Path) -> None:
    problems = lint(BROKEN / "over_budget", nltk_dir).problems
    tip = next(line for line in problems if "/tip.sms" in line)
    long_tip = next(line for line in problems if "/long-tip.sms" in line)
    assert "2 segments (GSM-7, 163 characters) with first_name 'Alexandrina', budget 1" in tip
    assert "fits only with the fallback name 'there'" in tip
    assert "fallback" not in long_tip


def test_caps_are_checked_with_the_configured_caps(nltk_dir: Path) -> None:
    assert lint(BROKEN / "caps", nltk_dir, caps=Caps({"sms": 2}, {"sms": 3})).problems == []
    tight = lint(CONTENT, nltk_dir, caps=Caps({"sms": 1}, {"sms": 2})).problems
    assert all(": caps: breaks the cap of " in line for line in tight)
    assert any("caps: breaks the cap of 2 SMS in any 7 x 24 hours" in line for line in tight)


def test_quiet_hours_are_the_configured_ones(nltk_dir: Path) -> None:
    report = lint_content(
        CONTENT, TEMPLATES, QuietHours(clock_time(18, 30), clock_time(8, 0)), CAPS, readability_dir=nltk_dir
    )
    assert [line.split(": ", 2)[1:] for line in report.problems] == [
        ["sleep", "quiet hours: 19:00 local is inside quiet hours 18:30-08:00"]
    ]


def test_broken_template_is_reported_once(tmp_path: Path, nltk_dir: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    (templates / "email" / "message.txt.j2").write_text("{{ no_such_thing }}\n", encoding="utf-8")
    problems = lint(CONTENT, nltk_dir, templates=templates).problems
    assert len(problems) == 2  # once per program (twitching, visit-prep), not once per message
    for problem, program in zip(problems, ("twitching", "visit-prep"), strict=True):
        assert problem.startswith(f"{program}/en/welcome.email: render error: templates/email/message.txt.j2: ")
        assert "'no_such_thing' is undefined" in problem


def test_empty_content_dir_is_a_problem(tmp_path: Path, nltk_dir: Path) -> None:
    assert lint(tmp_path, nltk_dir).problems == [f"{tmp_path}: no programs found (expected <program>/program.yaml)"]


def test_email_words_cut_the_footer_and_end_list_items() -> None:
    text = "Hi Ana,\n\nCall us if it:\n\n  - lasts weeks,\n  - spreads\n\n--\nNot medical advice.\n"
    assert email_words(text) == "Hi Ana. Call us if it: lasts weeks. spreads."


def test_week_cap_break_just_after_a_step_time_is_found(tmp_path: Path, nltk_dir: Path) -> None:
    """Welcome at enrollment, then day 2, day 5 and day 7 at 12:00: only patients enrolled just
    after 12:00 get the day-7 step held back by 3 SMS in 7 x 24 h, and lint finds them."""
    shutil.copytree(BROKEN / "caps" / "caps", tmp_path / "caps")
    program = tmp_path / "caps" / "program.yaml"
    steps = "".join(
        f'  - id: {step}\n    day: {day}\n    at: "12:00"\n    channels: [sms]\n'
        for step, day in (("tip-morning", 2), ("tip-noon", 5), ("tip-evening", 7))
    )
    head = program.read_text(encoding="utf-8").split("  - id: tip-morning")[0]
    program.write_text(head + steps, encoding="utf-8")
    strings = tmp_path / "caps" / "strings" / "en.yaml"
    noon = '\ntip-noon:\n  sms: "Hi {{ first_name }}, take a short walk after lunch today."\n'
    strings.write_text(strings.read_text(encoding="utf-8") + noon, encoding="utf-8")
    problems = lint(tmp_path, nltk_dir).problems
    assert len(problems) == 1
    assert "tip-evening.sms: caps: breaks the cap of 3 SMS in any 7 x 24 hours" in problems[0]
    assert " 12:01 " in problems[0]


def test_lint_names_the_cap_the_scheduler_applies() -> None:
    """One rule: lint reports a cap exactly when the scheduler's rule moves the message, and names it."""
    tz = ZoneInfo("America/New_York")
    monday = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)  # 10:00 in New York
    sent = [monday, monday + timedelta(days=1), monday + timedelta(days=2)]
    for hours in range(0, 24 * 9, 5):
        instant = monday + timedelta(hours=hours)
        for per_day, per_week in ((1, None), (None, 3), (1, 3), (2, 2)):
            rule = broken_cap(instant, tz, sent, "sms", per_day, per_week)
            moved = defer_caps(instant, tz, sent, per_day, per_week) != instant
            assert (rule is not None) == moved, (instant, per_day, per_week)
    assert broken_cap(monday + timedelta(hours=2), tz, sent, "sms", 1, 3) == "1 SMS a local day"
    assert broken_cap(monday + timedelta(days=3), tz, sent, "sms", 1, 3) == "3 SMS in any 7 x 24 hours"
    assert broken_cap(monday + timedelta(days=3), tz, sent, "email", None, 3) == "3 email in any 7 x 24 hours"
