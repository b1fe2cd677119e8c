"""Find terms (one or more words) in a list of folded words: exact, stem, or one typo away.

A term's word matches a reply's word when, after `text.variants` (stretched letters cut):
- it is the same word;
- it ends in '*' and the reply's word starts with the rest ('weak*' matches 'weakness');
- it is a plain word and the reply's word has 6+ letters, is not one of `ordinary_words`, and
  is within Damerau-Levenshtein distance 1 of it (one letter added, dropped, changed, or two
  neighbours swapped: 'weekness', 'swalow', 'numbnes'), even when it also matched another term
  word exactly ('breath' is a term word and a typo of 'breathe'). Candidates come from a
  symmetric-delete index, and rapidfuzz (C++) computes the distance of each.
A term of several words matches consecutive words with no BARRIER between them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from rapidfuzz.distance import DamerauLevenshtein

from worker.redflags.text import BARRIER, variants

MIN_FUZZY_LETTERS = 6
_CACHE_LIMIT = 20_000  # distinct reply words remembered; cleared when full


class Matcher:
    """Built once from terms (each a tuple of folded words, '*' for a stem). `find` is a pure
    function of its words; the only state is a bounded memo of each word's reading."""

    def __init__(self, terms: Sequence[tuple[str, ...]], *, ordinary_words: Iterable[str] = ()) -> None:
        self._terms = tuple(terms)
        self._by_first: dict[str, list[int]] = defaultdict(list)
        for index, term in enumerate(self._terms):
            self._by_first[term[0]].append(index)
        vocabulary = {word for term in self._terms for word in term}
        self._exact = frozenset(w for w in vocabulary if not w.endswith("*"))
        self._stems: dict[int, frozenset[str]] = {}
        for length in {len(w) - 1 for w in vocabulary if w.endswith("*")}:
            self._stems[length] = frozenset(w[:-1] for w in vocabulary if w.endswith("*") and len(w) == length + 1)
        self._near: dict[str, set[str]] = defaultdict(set)  # a word and each of its one-letter deletions
        for word in self._exact:
            for key in _deletions(word):
                self._near[key].add(word)
        self._ordinary = frozenset(ordinary_words)
        self._cache: dict[str, frozenset[str]] = {}

    def find(self, words: Sequence[str]) -> list[tuple[int, int, int]]:
        """Every (start, end, term index) where a term matches `words[start:end]`, by position."""
        readings = [self.reading(w) for w in words]
        found: list[tuple[int, int, int]] = []
        for start, options in enumerate(readings):
            for option in options:
                for index in self._by_first.get(option, ()):
                    term = self._terms[index]
                    end = start + len(term)
                    if end <= len(words) and all(term[k] in readings[start + k] for k in range(1, len(term))):
                        found.append((start, end, index))
        return found

    def reading(self, word: str) -> frozenset[str]:
        """The term words (as written, '*' included) that one reply word may stand for."""
        if word == BARRIER:
            return frozenset()
        cached = self._cache.get(word)
        if cached is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            cached = self._cache[word] = self._read(word)
        return cached

    def _read(self, word: str) -> frozenset[str]:
        forms = variants(word)
        hits = {form for form in forms if form in self._exact}
        for form in forms:
            hits.update(form[:n] + "*" for n, stems in self._stems.items() if form[:n] in stems)
        if any(form in self._ordinary for form in forms):
            return frozenset(hits)
        for form in forms:
            if len(form) >= MIN_FUZZY_LETTERS:
                near = {candidate for key in _deletions(form) for candidate in self._near.get(key, ())}
                hits.update(c for c in near if DamerauLevenshtein.distance(form, c, score_cutoff=1) <= 1)
        return frozenset(hits)


def _deletions(word: str) -> set[str]:
    """The word and every word one deletion away: two words within Damerau-Levenshtein 1 always
    share one of these (symmetric-delete lookup), so only those pairs need a distance."""
    return {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))}
