"""When a number needs an introduction, and which one it gets (worker.introductions), by table."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from worker.errors import ContentError
from worker.introductions import intro_needed, next_intro_number, reaches_new_number
from worker.lint import lint_content
from worker.policy import Caps, QuietHours
from worker.programs import ProgramCatalog, load_program
from worker.records import Enrollment, EnrollmentState, MessageRecord, MessageState

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ProgramCatalog(ROOT / "content").get("twitching")
AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
CURRENT = Enrollment(
    "e1", "c1", "p-1", "twitching", "Ana", "+14155550100", "ana@example.org", ("sms", "email"), "en",
    "America/New_York", EnrollmentState.ACTIVE, AT, AT, cursor={"sms": 3, "email": 3},
)  # fmt: skip


@pytest.mark.parametrize(
    ("current", "change", "expected"),
    [
        (CURRENT, {"phone": "+14155550199"}, True),  # a new number
        (CURRENT, {"first_name": "Anita"}, False),
        (dataclasses.replace(CURRENT, channels=("email",)), {"channels": ("email", "sms")}, True),  # SMS added
        (CURRENT, {"channels": ("email",), "phone": "+14155550199"}, False),  # no SMS any more
        (dataclasses.replace(CURRENT, channels=("email",), phone=None), {"phone": "+14155550199"}, False),
    ],
)
def test_a_number_is_reached_anew_when_sms_is_added_or_the_phone_changes(
    current: Enrollment, change: dict[str, object], expected: bool
) -> None:
    assert reaches_new_number(current, dataclasses.replace(current, **change)) is expected  # type: ignore[arg-type]


def welcome(state: MessageState) -> MessageRecord:
    return MessageRecord("e1", "welcome", "sms", 1, state, AT)


@pytest.mark.parametrize(
    ("cursor", "records", "expected"),
    [
        (3, [], True),  # mid-program: the next lesson does not introduce
        (0, [], False),  # the welcome is next and introduces itself
        (0, [welcome(MessageState.RETRYING)], False),  # ... still to go, to the new number
        (0, [welcome(MessageState.SENDING)], True),  # it is going to the old number
        (0, [welcome(MessageState.SENT)], True),  # it went to the old number (SMS dropped, added again)
        (len(PROGRAM.steps_for("sms")), [], False),  # no SMS left to introduce
    ],
)
def test_an_introduction_is_needed_unless_the_welcome_does_it(
    cursor: int, records: list[MessageRecord], expected: bool
) -> None:
    assert intro_needed(PROGRAM, cursor, records) is expected


def test_each_introduction_has_a_number_of_its_own() -> None:
    assert next_intro_number(CURRENT, []) == 1
    assert next_intro_number(dataclasses.replace(CURRENT, intros=2), []) == 3
    resent = MessageRecord("e1", "intro", "sms", 3, MessageState.SENT, AT)  # an operator's resend of intro 2
    assert next_intro_number(dataclasses.replace(CURRENT, intros=2), [resent]) == 4


def test_the_introduction_has_words_in_every_language_and_falls_back_to_the_first_sms() -> None:
    assert all("STOP" in PROGRAM.intro_text(lang) for lang in PROGRAM.languages)  # type: ignore[operator]
    bare = dataclasses.replace(PROGRAM, intro={})
    assert bare.intro_text("en") == PROGRAM.strings["en"]["welcome"]["sms"]


def test_intro_is_no_step_id_and_its_words_must_be_there(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "content" / "twitching", tmp_path / "twitching")
    program = tmp_path / "twitching" / "program.yaml"
    original = program.read_text(encoding="utf-8")
    program.write_text(original.replace("id: closing", "id: intro"), encoding="utf-8")
    with pytest.raises(ContentError, match="'intro' is reserved for the introduction SMS"):
        load_program(tmp_path, "twitching")
    program.write_text(original, encoding="utf-8")
    strings = tmp_path / "twitching" / "strings" / "es.yaml"
    words = strings.read_text(encoding="utf-8")
    strings.write_text(words.replace("intro:\n  sms:", "intro:\n  text:"), encoding="utf-8")
    with pytest.raises(ContentError, match=r"strings/es\.yaml: intro\.sms: a non-empty string is needed"):
        load_program(tmp_path, "twitching")


def test_lint_checks_the_introduction_like_a_first_sms(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "content" / "twitching", tmp_path / "content" / "twitching")
    strings = tmp_path / "content" / "twitching" / "strings" / "en.yaml"
    words = strings.read_text(encoding="utf-8")
    intro = words.split("intro:\n  sms: ", 1)[1].split("\n", 1)[0]
    bad = '"Hi {{ first_name }}, we will text your tips here now, and we are glad to help you with all of it today’s."'
    strings.write_text(words.replace(intro, bad), encoding="utf-8")
    quiet, caps = QuietHours(time(21, 0), time(8, 0)), Caps({"sms": 1}, {"sms": 3})
    report = lint_content(tmp_path / "content", ROOT / "templates", quiet, caps, readability_dir=tmp_path / "nltk")
    assert sorted(line.split(": ", 2)[1] for line in report.problems) == [
        "first SMS",  # no clinic name
        "first SMS",  # no STOP / HELP
        "not GSM-7",
        "over budget",
    ]
    assert all(line.startswith("twitching/en/intro.sms: ") for line in report.problems)
