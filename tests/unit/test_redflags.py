"""Red-flag replies: the twitching program's signs in English and Spanish, and any body a phone can send."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest

from worker.errors import ContentError
from worker.redflags import RedFlags, load_red_flags
from worker.redflags.text import BARRIER, fold, variants, words

CONTENT = Path(__file__).resolve().parents[2] / "content"


@pytest.fixture(scope="module")
def flags() -> RedFlags:
    return load_red_flags(CONTENT, "twitching")


@pytest.mark.parametrize(
    ("text", "language", "sign"),
    [
        # English: every sign, plain.
        ("my hand is getting weaker", "en", "weakness"),
        ("the twitching is spreading up my leg", "en", "spreading_or_lasting"),
        ("it has been going on for weeks", "en", "spreading_or_lasting"),
        ("my thigh muscle is shrinking", "en", "muscle_wasting"),
        ("it is hard to swallow", "en", "swallowing"),
        ("my speech is slurred", "en", "speech"),
        ("i can't breathe", "en", "breathing"),
        ("I fell in the kitchen", "en", "falls"),
        ("my fingers are numb", "en", "numbness"),
        ("chest pain", "en", "chest_pain"),
        ("this is an emergency", "en", "emergency"),
        ("call 911", "en", "emergency"),
        ("9-1-1 please", "en", "emergency"),
        ("send an ambulance", "en", "emergency"),
        # any case, apostrophes of any kind or none, punctuation, stretched letters
        ("WEAKNESS IN MY LEGS", "en", "weakness"),
        ("I CAN’T BREATHE", "en", "breathing"),
        ("cant breathe", "en", "breathing"),
        ("cannot breathe!!!", "en", "breathing"),
        ("soooo weeeeak", "en", "weakness"),
        ("my arm feels weak...", "en", "weakness"),
        # common misspellings: one letter added, dropped, changed or swapped, words of 6+ letters
        ("weekness in my arm", "en", "weakness"),
        ("hard to swalow", "en", "swallowing"),
        ("numbnes in my toes", "en", "numbness"),
        ("its an emergancy", "en", "emergency"),
        ("need an ambulence", "en", "emergency"),
        ("my speach is off", "en", "speech"),
        ("cant breath", "en", "breathing"),
        ("weaknses", "en", "weakness"),
        # negation still flags: recall comes first
        ("no weakness, just twitching", "en", "weakness"),
        ("not numb at all", "en", "numbness"),
        # emoji around the words
        ("🚑 ambulance 🚑", "en", "emergency"),
        ("chest pain 😰😰", "en", "chest_pain"),
        ("I fell asleep on the couch and fell off it", "en", "falls"),
        # Spanish, with and without accents, any case
        ("tengo debilidad en la mano", "es", "weakness"),
        ("me siento débil", "es", "weakness"),
        ("me siento debil", "es", "weakness"),
        ("DÉBIL", "es", "weakness"),
        ("devilidad", "es", "weakness"),
        ("el espasmo se está extendiendo", "es", "spreading_or_lasting"),
        ("llevo semanas así", "es", "spreading_or_lasting"),
        ("el músculo se ve más delgado", "es", "muscle_wasting"),
        ("me cuesta tragar", "es", "swallowing"),
        ("me atraganto", "es", "swallowing"),
        ("arrastro las palabras", "es", "speech"),
        ("no puedo respirar", "es", "breathing"),
        ("NO PUEDO RESPIRAR", "es", "breathing"),
        ("me falta el aire", "es", "breathing"),
        ("me caí", "es", "falls"),
        ("me cai ayer", "es", "falls"),
        ("tengo la mano adormecida", "es", "numbness"),
        ("siento el brazo entumecido", "es", "numbness"),
        ("pierna entumesida", "es", "numbness"),
        ("dolor de pecho", "es", "chest_pain"),
        ("me duele el pecho", "es", "chest_pain"),
        ("es una emergencia", "es", "emergency"),
        ("emergensia", "es", "emergency"),
        ("no tengo debilidad", "es", "weakness"),
        # patients mix languages: every language's signs are checked
        ("tengo chest pain", "es", "chest_pain"),
        ("my mano is débil", "en", "weakness"),
    ],
)
def test_flags(flags: RedFlags, text: str, language: str, sign: str) -> None:
    match = flags.check(text, language)
    assert match is not None, text
    assert sign in match.signs


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("thanks!", "en"),
        ("ok see you", "en"),
        ("twitching is better today", "en"),
        ("OK 👍", "en"),
        ("I fell asleep early", "en"),
        ("falling asleep is easier now", "en"),
        ("see you next week", "en"),
        ("my number changed", "en"),
        ("I'm waiting for my appointment", "en"),
        ("thanks for calling", "en"),
        ("I was washing the dishes", "en"),
        ("I did the breathing exercises", "en"),
        ("strength training is going well", "en"),
        ("merci", "fr"),
        ("gracias", "es"),
        ("¡Gracias! 😊", "es"),
        ("nos vemos la próxima semana", "es"),
        ("me siento mejor", "es"),
        ("no, para el jueves", "es"),
        ("lo voy a tratar", "es"),
    ],
)
def test_does_not_flag(flags: RedFlags, text: str, language: str) -> None:
    assert flags.check(text, language) is None


@pytest.mark.parametrize(
    "text",
    ["", " ", "   \n\t  ", "😀" * 800, "\x00\x01\x7f", "?!.,;:", "a" * 1600, "\u0301" * 50, "🇺🇸👨‍👩‍👧", "\ufeff"],
)
def test_any_body_is_handled(flags: RedFlags, text: str) -> None:
    assert flags.check(text, "en") is None
    assert flags.check(text, "es") is None
    assert flags.check(text, "xx") is None


def test_a_sign_at_the_end_of_a_long_reply_is_found(flags: RedFlags) -> None:
    body = ("I have been drinking more water and sleeping well, thank you. " * 30)[:1580] + " chest pain"
    assert len(body) <= 1600
    match = flags.check(body, "en")
    assert match is not None and match.signs == ("chest_pain",)


def test_a_phrase_does_not_match_across_a_sentence_end(flags: RedFlags) -> None:
    assert flags.check("my chest. Pain in my foot from shoes", "en") is None
    assert flags.check("chest pain", "en") is not None


def test_the_enrollments_language_comes_first(flags: RedFlags) -> None:
    match = flags.check("911", "es")
    assert match is not None
    assert match.hits[0].language == "es"
    assert {hit.language for hit in match.hits} == {"en", "es"}
    assert match.signs == ("emergency",)


def test_hits_name_the_term_as_written(flags: RedFlags) -> None:
    match = flags.check("I can’t breathe and my chest hurts", "en")
    assert match is not None
    assert [(hit.sign, hit.term) for hit in match.hits] == [
        ("breathing", "can't breathe"),
        ("chest_pain", "chest hurts"),
    ]


def test_a_1600_character_reply_is_checked_in_well_under_5_ms(flags: RedFlags) -> None:
    """CPU time (other test suites share these 2 cores): median of fresh 1,600-character bodies."""
    sentence = "My left calf twitches at night, mostly after long walks; I drink water and sleep 7 hours. "
    bodies = [(f"Day {n}: " + sentence * 20)[:1600] for n in range(15)]
    fresh = load_red_flags(CONTENT, "twitching")  # nothing remembered from other tests
    timings = []
    for body in bodies:
        started = time.process_time()
        fresh.check(body, "en")
        timings.append(time.process_time() - started)
    assert statistics.median(timings) < 0.005


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Débil", "debil"),
        ("CAN’T", "cant"),
        ("can't", "cant"),
        ("ñandú", "nandu"),
        ("ＡＢＣ", "abc"),
        ("Straße", "strasse"),
        ("emoji 😀", "emoji 😀"),
    ],
)
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected


def test_words_mark_sentence_ends() -> None:
    assert words("Chest pain. No! ¿Tragar?") == ["chest", "pain", BARRIER, "no", BARRIER, BARRIER, "tragar", BARRIER]


def test_variants_cut_stretched_letters() -> None:
    assert variants("weak") == ("weak",)
    assert variants("weeeak") == ("weeeak", "weak", "weeak")
    assert variants("falllll") == ("falllll", "fal", "fall")
    assert variants("9111") == ("9111",)  # digits are never stretched


BAD_FILES = [
    ("", "a mapping of language"),
    ("en: [1]", "en: a mapping with signs"),
    ("en:\n  signs: {a: [x]}\n  must_flag: [x]\n  must_not_flag: [y]\n  extra: 1", "en.extra: unknown key"),
    ("en:\n  signs: {}\n  must_flag: [x]\n  must_not_flag: [y]", "en.signs: a mapping"),
    ("en:\n  signs: {Bad-Name: [x]}\n  must_flag: [x]\n  must_not_flag: [y]", "en.signs.Bad-Name: a sign name"),
    ("en:\n  signs: {a: []}\n  must_flag: [x]\n  must_not_flag: [y]", "en.signs.a: a non-empty list"),
    ("en:\n  signs: {a: ['']}\n  must_flag: [x]\n  must_not_flag: [y]", "en.signs.a[0]: a non-empty string"),
    ("en:\n  signs: {a: [yes]}\n  must_flag: [x]\n  must_not_flag: [y]", "en.signs.a[0]: a non-empty string"),
    ("en:\n  signs: {a: ['we*k']}\n  must_flag: [x]\n  must_not_flag: [y]", "en.signs.a[0]: 'we*k'"),
    ("en:\n  signs: {a: ['ab*']}\n  must_flag: [x]\n  must_not_flag: [y]", "en.signs.a[0]: 'ab*'"),
    ("en:\n  signs: {a: ['chest-pain']}\n  must_flag: [x]\n  must_not_flag: [y]", "en.signs.a[0]"),
    ("en:\n  signs: {a: [x]}\n  must_not_flag: [y]", "en.must_flag: a non-empty list"),
    ("en:\n  signs: {a: [x]}\n  must_flag: [x]", "en.must_not_flag: a non-empty list"),
    ("en:\n  signs: {a: [x]}\n  must_flag: [x]\n  must_not_flag: [y]\n  ignore: [':(']", "en.ignore[0]"),
    (
        "en:\n  signs: {a: [x]}\n  must_flag: [x]\n  must_not_flag: [y]\n  ordinary_words: word",
        "en.ordinary_words: a list",
    ),
    ("en: [unclosed", "not valid YAML"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_bad_data_names_the_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "p").mkdir()
    path = tmp_path / "p" / "red_flags.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        load_red_flags(tmp_path, "p")
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_a_missing_file_is_a_content_error(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match=r"red_flags\.yaml: file not found"):
        load_red_flags(tmp_path, "nothing")
