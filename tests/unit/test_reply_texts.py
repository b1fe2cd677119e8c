"""Answers to patients' texts, in their language: safety message, HELP, STOP, START, PAUSE."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from worker.errors import ContentError
from worker.readability import grade_level
from worker.reply_texts import ReplyKind, ReplyTexts, load_reply_texts
from worker.segments import count_segments

CONTENT = Path(__file__).resolve().parents[2] / "content"
CLINICS = {"en": "Riverside Family Health Clinic", "es": "Clínica Familiar Riverside"}
PHONE = "+1 (555) 010-2345"
BUDGET = {"en": 1, "es": 2}
UNTIL = date(2026, 12, 9)


@pytest.fixture(scope="module")
def texts() -> ReplyTexts:
    return load_reply_texts(CONTENT, "twitching")


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("kind", list(ReplyKind))
def test_each_reply_fits_its_budget_with_a_realistic_clinic(texts: ReplyTexts, kind: ReplyKind, language: str) -> None:
    body = texts.text(kind, language, clinic_name=CLINICS[language], clinic_phone=PHONE, until=UNTIL)
    assert count_segments(body).segments <= BUDGET[language], body
    assert "{" not in body and "  " not in body and body == body.strip()
    if kind in (ReplyKind.SAFETY, ReplyKind.HELP):
        assert "911" in body and PHONE in body
    if kind is not ReplyKind.SAFETY:
        assert body.startswith(CLINICS[language] + ": ")


@pytest.mark.parametrize("kind", list(ReplyKind))
def test_english_reads_at_grade_8_or_below(texts: ReplyTexts, kind: ReplyKind) -> None:
    body = texts.text(kind, "en", clinic_name=CLINICS["en"], clinic_phone=PHONE, until=UNTIL)
    assert grade_level(body, "en") <= 8.0, body


def test_the_safety_message(texts: ReplyTexts) -> None:
    assert texts.text(ReplyKind.SAFETY, "en", clinic_name="Riverside Clinic", clinic_phone="+1 555-010-2345") == (
        "If this is an emergency, call 911 now. We've told Riverside Clinic; they will contact you."
        " You can also call them at +1 555-010-2345."
    )
    assert texts.text(ReplyKind.SAFETY, "es", clinic_name="Clínica Sol", clinic_phone="+1 555-010-2345") == (
        "Si es una emergencia, llama ya al 911. Avisamos a Clínica Sol y te van a llamar. O llama al +1 555-010-2345."
    )


def test_without_a_clinic_phone_or_name_nothing_dangles(texts: ReplyTexts) -> None:
    assert texts.text(ReplyKind.SAFETY, "en", clinic_name="Riverside Clinic") == (
        "If this is an emergency, call 911 now. We've told Riverside Clinic; they will contact you."
    )
    assert texts.text(ReplyKind.SAFETY, "en") == "If this is an emergency, call 911 now."
    assert texts.text(ReplyKind.HELP, "es") == "Consejos de salud. Emergencias: 911. Responde STOP para cancelar."
    assert texts.text(ReplyKind.STOP, "en", clinic_phone="  ") == (
        "You will get no more texts from us. Reply START to get them again."
    )


@pytest.mark.parametrize(
    ("language", "until", "expected"),
    [
        ("en", date(2026, 12, 8), "until Tuesday, December 8."),
        ("en", date(2027, 1, 3), "until Sunday, January 3."),
        ("es", date(2026, 12, 8), "hasta el 8 de diciembre."),
        ("es", date(2026, 9, 30), "hasta el 30 de septiembre."),
    ],
)
def test_pause_says_until_when(texts: ReplyTexts, language: str, until: date, expected: str) -> None:
    body = texts.text(ReplyKind.PAUSE, language, clinic_name="Sol", until=until)
    assert expected in body
    assert "7" in body


def test_pause_needs_a_date(texts: ReplyTexts) -> None:
    with pytest.raises(ValueError, match="until"):
        texts.text(ReplyKind.PAUSE, "en")


@pytest.mark.parametrize(
    ("language", "expected"), [("es-MX", "es"), ("ES", "es"), ("es_US", "es"), ("fr", "en"), ("", "en")]
)
def test_language_fallback(texts: ReplyTexts, language: str, expected: str) -> None:
    assert texts.text(ReplyKind.START, language) == texts.text(ReplyKind.START, expected)


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(CONTENT / "twitching", tmp_path / "twitching")
    return tmp_path / "twitching" / "strings" / "es.yaml"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("  stop: ", "  stopp: ", "_replies.stop: missing text"),
        ('  date: "{{ day }} de {{ month }}"', '  date: "{{ dia }}"', "_replies.date: does not render"),
        ('  pause: "', '  pause: "{% if %}', "_replies.pause: not a valid template"),
        ('  help: "', '  help: "{{ clinic_email }}', "_replies.help: does not render"),
        ("domingo]", "domingo, lunes]", "_replies.weekdays: a list of 7 names"),
        ("\n_replies:\n", "\n_repliez:\n", "_replies: a mapping"),
    ],
)
def test_bad_content_names_the_file_and_field(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = _copy(tmp_path)
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        load_reply_texts(tmp_path, "twitching")
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)
