"""The term matcher alone: exact words, stems, one-typo tolerance and phrases, on folded words."""

from __future__ import annotations

import pytest

from worker.redflags.matcher import Matcher
from worker.redflags.text import BARRIER

TERMS = [("weakness",), ("weak*",), ("chest", "pain"), ("cant", "breathe"), ("numb",), ("swallow",), ("911",)]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(TERMS, ordinary_words=["shallow"])


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("weakness", {"weakness", "weak*"}),
        ("weaker", {"weak*"}),
        ("weak", {"weak*"}),
        ("wea", set()),
        ("weekness", {"weakness"}),  # one letter changed
        ("weaknes", {"weakness", "weak*"}),  # one dropped (and still starts with the stem)
        ("weakkness", {"weakness", "weak*"}),  # one added (and still starts with the stem)
        ("waeknsss", set()),  # two changes: too far
        ("wekaness", {"weakness"}),  # two neighbours swapped
        ("swalow", {"swallow"}),  # 6 letters: tolerated
        ("numbb", set()),  # under 6 letters: exact only
        ("nmb", set()),
        ("shallow", set()),  # an ordinary word is never a typo
        ("weeeeeak", {"weak*"}),  # stretched letters
        ("swallllow", {"swallow"}),
        ("breath", {"breathe"}),
        ("911", {"911"}),
        ("9111", set()),
        (BARRIER, set()),
    ],
)
def test_reading(matcher: Matcher, word: str, expected: set[str]) -> None:
    assert matcher.reading(word) == expected


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["chest", "pain"], [(0, 2, 2)]),
        (["my", "chest", "pian"], []),  # 4 letters: no tolerance
        (["chest", BARRIER, "pain"], []),
        (["chest"], []),
        (["cant", "breath", "and", "weak"], [(0, 2, 3), (3, 4, 1)]),
        ([], []),
    ],
)
def test_find(matcher: Matcher, words: list[str], expected: list[tuple[int, int, int]]) -> None:
    assert matcher.find(words) == expected


def test_the_memo_is_bounded() -> None:
    matcher = Matcher(TERMS)
    for n in range(25_000):
        matcher.reading(f"word{n}")
    assert len(matcher._cache) <= 20_000
    assert matcher.reading("weekness") == {"weakness"}
