"""`caredrip lint`'s checks of red flags and reply texts (worker/lint/safety.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from worker.lint.safety import lint_red_flags, lint_reply_texts

CONTENT = Path(__file__).resolve().parents[2] / "content"
CLINICS = {"en": "Riverside Family Health Clinic", "es": "Clínica Familiar Riverside"}
PHONE = "+1 (555) 010-2345"


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(CONTENT / "twitching", tmp_path / "twitching")
    return tmp_path / "twitching"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_content_passes() -> None:
    assert lint_red_flags(CONTENT) == []
    assert lint_reply_texts(CONTENT, clinic_names=CLINICS, clinic_phone=PHONE) == []


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("    - I feel weak\n", "    - I feel weak\n    - I feel fine\n", "en.must_flag: 'I feel fine' does not flag"),
        (
            "    - Thank you\n",
            "    - Thank you\n    - my chest hurts\n",
            "en.must_not_flag: 'my chest hurts' flags: chest_pain",
        ),
        (
            "    - me cuesta tragar\n",
            "    - me cuesta tragar\n    - estoy bien\n",
            "es.must_flag: 'estoy bien' does not flag",
        ),
        ("    - gracias\n", "    - gracias\n    - me caí\n", "es.must_not_flag: 'me caí' flags: falls"),
        ("      - tongue\n", "      - tongue\n      - zzzz\n", ""),  # a new term needs no example of its own
    ],
)
def test_examples_are_checked(tmp_path: Path, old: str, new: str, problem: str) -> None:
    folder = _copy(tmp_path)
    _edit(folder / "red_flags.yaml", old, new)
    problems = lint_red_flags(tmp_path)
    if not problem:
        assert problems == []
        return
    assert len(problems) == 1
    assert problems[0].startswith(f"{folder / 'red_flags.yaml'}: ")
    assert problem in problems[0]


def test_a_sign_without_an_example_is_reported(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _edit(folder / "red_flags.yaml", "    chest_pain:\n", "    palpitations:\n      - heart racing\n    chest_pain:\n")
    assert lint_red_flags(tmp_path) == [
        f"{folder / 'red_flags.yaml'}: en.signs.palpitations: no must_flag example shows this sign"
    ]


def test_a_program_language_without_red_flags_is_reported(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _edit(folder / "program.yaml", "languages: [en, es]", "languages: [en, es, fr]")
    assert lint_red_flags(tmp_path) == [f"{folder / 'red_flags.yaml'}: fr: no red flags for this program language"]


def test_a_missing_or_broken_file_is_reported(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "red_flags.yaml").unlink()
    assert lint_red_flags(tmp_path) == [f"{folder / 'red_flags.yaml'}: file not found"]
    (folder / "red_flags.yaml").write_text("en:\n  signs: {a: [x]}\n", encoding="utf-8")
    assert lint_red_flags(tmp_path) == [
        f"{folder / 'red_flags.yaml'}: en.must_flag: a non-empty list of strings is needed"
    ]


def test_a_reply_over_its_budget_is_reported(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _edit(
        folder / "strings" / "en.yaml",
        "Reply START to get them again.",
        "Reply START to get them again. " + "Really. " * 10,
    )
    problems = lint_reply_texts(tmp_path, clinic_names=CLINICS, clinic_phone=PHONE)
    assert problems
    assert all(
        p.startswith(f"{folder / 'strings' / 'en.yaml'}: en: _replies.stop: 2 segments (GSM-7") for p in problems
    )
    assert len(problems) == 1  # with the clinic's name; without it the text still fits


def test_reading_level_is_checked_in_english_only(tmp_path: Path) -> None:
    calls: list[str] = []

    def grade(text: str, language: str) -> float:
        calls.append(language)
        return 12.0

    problems = lint_reply_texts(CONTENT, clinic_names=CLINICS, clinic_phone=PHONE, grade=grade)
    assert set(calls) == {"en"}
    assert problems and all("en: _replies." in p and "reading level above grade 8" in p for p in problems)


def test_broken_reply_texts_are_reported(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _edit(folder / "strings" / "es.yaml", "  help: ", "  ayuda: ")
    assert lint_reply_texts(tmp_path, clinic_names=CLINICS, clinic_phone=PHONE) == [
        f"{folder / 'strings' / 'es.yaml'}: _replies.help: missing text"
    ]
