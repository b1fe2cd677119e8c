"""Reply text to comparable words: accents, case, apostrophes, punctuation and stretched letters.

Pure functions, no data. Both a patient's reply and the terms in `red_flags.yaml` go through
`fold`, so "Débil", "DEBIL" and "debil" are one word, and "can't", "can’t" and "cant" are one.
"""

from __future__ import annotations

import re
import unicodedata

BARRIER = "|"  # stands where a sentence or clause ends: a phrase never matches across it
_APOSTROPHES = re.compile(r"['’‘`´ʼ]")
# The combining diacritical mark blocks (basic, extended, supplement, for symbols, half marks):
# every accent a Latin-script reply can carry once NFKD has split it from its letter.
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_BREAKS = re.compile(r"[.,;:!?¡¿\n|]")
_WORD_OR_BARRIER = re.compile(r"[^\W_]+|\|")
_TERM_WORD = re.compile(r"[^\W_]+\*?|\S")
_STRETCHED = re.compile(r"([^\W\d_])\1{2,}")  # a letter three or more times in a row


def fold(text: str) -> str:
    """Lower case without accents or apostrophes: 'Can’t SWALLÓW' -> 'cant swallow'.

    NFKD splits a letter from its accent (and full-width or styled letters into plain ones);
    the accents are dropped. 'ñ' becomes 'n'. Regular expressions do the per-character work,
    in C: a Python loop over 1,600 characters costs a millisecond.
    """
    decomposed = unicodedata.normalize("NFKD", _APOSTROPHES.sub("", text))
    if decomposed.isascii():
        return decomposed.lower()
    return _MARKS.sub("", decomposed).casefold()


def words(text: str) -> list[str]:
    """The folded words of a reply, with BARRIER where . , ; : ! ? or a new line was."""
    return _WORD_OR_BARRIER.findall(_BREAKS.sub(" | ", fold(text)))


def term_words(term: str) -> list[str]:
    """The folded words of a term as written in the data; a trailing '*' is kept (a stem).

    Anything that is neither a word nor a word with one trailing '*' comes back as itself, so
    validation can name it.
    """
    return _TERM_WORD.findall(fold(term))


def variants(word: str) -> tuple[str, ...]:
    """The word, and, if a letter repeats 3+ times ('weeeak'), that run cut to 1 and to 2 letters."""
    if not _STRETCHED.search(word):
        return (word,)
    return (word, _STRETCHED.sub(r"\1", word), _STRETCHED.sub(r"\1\1", word))
