"""Load and validate `content/<program>/red_flags.yaml` into RedFlags, and check replies with it.

The file holds, per language, `signs` (a sign's name -> the terms that show it), `ignore`
(phrases taken out of a reply first), `ordinary_words` (never read as a typo), and the examples
`must_flag` / `must_not_flag` that `caredrip lint` checks. Format: content/README.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from worker.content_yaml import read_yaml_mapping
from worker.errors import ContentError
from worker.redflags.matcher import Matcher
from worker.redflags.text import term_words, words

FILE_NAME = "red_flags.yaml"
_KEYS = {"signs": True, "must_flag": True, "must_not_flag": True, "ignore": False, "ordinary_words": False}
_SIGN_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_WORD_RE = re.compile(r"^[^\W_]+$|^[^\W_]{3,}\*$")


@dataclass(frozen=True, slots=True)
class Hit:
    """One term of one sign, in one language's list, found in a reply."""

    language: str
    sign: str
    term: str  # as written in red_flags.yaml


@dataclass(frozen=True, slots=True)
class RedFlagMatch:
    """What flagged a reply: hits of the reply's own language first, then by place in the reply."""

    hits: tuple[Hit, ...]

    @property
    def signs(self) -> tuple[str, ...]:
        """The signs found, each once, in hit order (safe to log: names only, no reply words)."""
        return tuple(dict.fromkeys(hit.sign for hit in self.hits))


@dataclass(frozen=True, slots=True)
class LanguageFlags:
    signs: dict[str, tuple[str, ...]]
    ignore: tuple[str, ...]
    ordinary_words: tuple[str, ...]
    must_flag: tuple[str, ...]
    must_not_flag: tuple[str, ...]


class RedFlags:
    """One program's warning signs in every language, compiled for `check`."""

    def __init__(self, languages: dict[str, LanguageFlags], path: Path) -> None:
        self.languages = languages
        self.path = path
        self._hits = [
            Hit(lang, sign, term)
            for lang, flags in languages.items()
            for sign, terms in flags.signs.items()
            for term in terms
        ]
        ordinary = {w for flags in languages.values() for word in flags.ordinary_words for w in term_words(word)}
        ignore = sorted({tuple(term_words(p)) for flags in languages.values() for p in flags.ignore})
        terms = [tuple(term_words(hit.term)) for hit in self._hits]
        self._matcher = Matcher(terms + ignore, ordinary_words=ordinary)

    def check(self, text: str, language: str) -> RedFlagMatch | None:
        """The red flags in a reply, or None. Every language's signs are checked (patients mix
        languages); `language` (the enrollment's) only orders the hits. Any text is fine."""
        spans = self._matcher.find(words(text))
        ignored = [(start, end) for start, end, index in spans if index >= len(self._hits)]
        found = [
            (self._hits[index], start)
            for start, end, index in spans
            if index < len(self._hits) and not any(a <= start and end <= b for a, b in ignored)
        ]
        if not found:
            return None
        found.sort(key=lambda pair: (pair[0].language != language, pair[1]))
        return RedFlagMatch(tuple(dict.fromkeys(hit for hit, _ in found)))


def load_red_flags(content_dir: Path, program_id: str) -> RedFlags:
    """Read and validate one program's red flags; raise ContentError naming the file and field."""
    path = content_dir / program_id / FILE_NAME
    data = read_yaml_mapping(path, "a mapping of language -> signs")
    if not data:
        raise ContentError(f"{path}: a mapping of language -> signs is needed at the top")
    return RedFlags({str(lang): _language(block, f"{path}: {lang}") for lang, block in data.items()}, path)


@cache
def red_flags_for(content_dir: Path, program_id: str) -> RedFlags:
    """`load_red_flags`, once per process and program."""
    return load_red_flags(content_dir, program_id)


def _language(block: Any, where: str) -> LanguageFlags:
    if not isinstance(block, dict):
        raise ContentError(f"{where}: a mapping with {', '.join(_KEYS)} is needed")
    for key in block:
        if key not in _KEYS:
            raise ContentError(f"{where}.{key}: unknown key (known: {', '.join(_KEYS)})")
    lists = {key: _texts(block.get(key), f"{where}.{key}", needed) for key, needed in _KEYS.items() if key != "signs"}
    signs = block.get("signs")
    if not isinstance(signs, dict) or not signs:
        raise ContentError(f"{where}.signs: a mapping of sign name -> list of terms is needed")
    for name in signs:
        if not isinstance(name, str) or not _SIGN_RE.match(name):
            raise ContentError(f"{where}.signs.{name}: a sign name is lowercase letters, digits and '_'")
    checked = {name: _texts(terms, f"{where}.signs.{name}", True) for name, terms in signs.items()}
    for field, terms in [*((f"signs.{n}", t) for n, t in checked.items()), ("ignore", lists["ignore"])]:
        for i, term in enumerate(terms):
            _check_term(term, f"{where}.{field}[{i}]")
    return LanguageFlags(checked, lists["ignore"], lists["ordinary_words"], lists["must_flag"], lists["must_not_flag"])


def _texts(value: Any, where: str, needed: bool) -> tuple[str, ...]:
    if value is None and not needed:
        return ()
    if not isinstance(value, list) or (needed and not value):
        raise ContentError(f"{where}: a non-empty list of strings is needed" if needed else f"{where}: a list")
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, str | int) or not str(item).strip():
            raise ContentError(f"{where}[{i}]: a non-empty string is needed")
    return tuple(str(item) for item in value)


def _check_term(term: str, where: str) -> None:
    parts = term_words(term)
    if not parts or not all(_WORD_RE.match(part) for part in parts):
        raise ContentError(
            f"{where}: {term!r}: letters, digits and spaces only; a word may end in '*' (3+ letters first)"
        )
