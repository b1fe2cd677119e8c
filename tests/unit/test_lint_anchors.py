"""`caredrip lint` on programs timed from anchors: the shipped one passes; an undeclared anchor, a
negative day without one, an unknown catch-up policy and anchored steps out of order are problems."""

from __future__ import annotations

import shutil
from datetime import time
from pathlib import Path

import pytest

from tests.support.program_edits import edit_program
from worker.lint import lint_content
from worker.lint.timing import anchor_leads
from worker.policy import Caps, QuietHours
from worker.programs import load_program

ROOT = Path(__file__).resolve().parents[2]
QUIET = QuietHours(time(21, 0), time(8, 0))
CAPS = Caps({"sms": 1}, {"sms": 3})


@pytest.fixture(scope="module")
def nltk_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nltk_data")


def lint_visit_prep(tmp_path: Path, nltk_dir: Path, step: int | None, change: dict[str, object]) -> list[str]:
    shutil.copytree(ROOT / "content" / "visit-prep", tmp_path / "visit-prep")
    edit_program(tmp_path / "visit-prep" / "program.yaml", change, step)
    return lint_content(tmp_path, ROOT / "templates", QUIET, CAPS, readability_dir=nltk_dir).problems


def test_visit_prep_passes_and_caps_are_planned_with_the_visit_ahead(tmp_path: Path, nltk_dir: Path) -> None:
    assert lint_visit_prep(tmp_path, nltk_dir, None, {}) == []
    assert anchor_leads(load_program(ROOT / "content", "visit-prep")) == (5, 6, 7)  # notes on day 2 at the earliest


@pytest.mark.parametrize(
    ("step", "change", "words"),
    [
        (1, {"from": "surgery"}, "steps[1].from: 'surgery' is not a declared anchor (anchors: visit)"),
        (1, {"from": None}, "steps[1].day: a whole number >= 0 (a negative day needs `from:` an anchor)"),
        (None, {"catch_up": "never"}, "catch_up: one of all, latest, skip"),
        (2, {"day": -4}, "medicines-list: out of order: day -4 from visit at 18:00 can come before the step above it"),
        (1, {"at": "22:30"}, "notes: quiet hours: 22:30 local is inside quiet hours 21:00-08:00"),
        (3, {"day": 1}, "after-visit.sms: caps: breaks the cap of 3 SMS in any 7 x 24 hours"),
    ],
)
def test_anchor_mistakes_are_problems(
    tmp_path: Path, nltk_dir: Path, step: int | None, change: dict[str, object], words: str
) -> None:
    problems = lint_visit_prep(tmp_path, nltk_dir, step, change)
    assert any(words in p for p in problems), problems
