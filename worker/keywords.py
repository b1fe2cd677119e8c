"""The words a patient texts to act rather than to talk: STOP, START, HELP, PAUSE and synonyms.

A keyword is the whole message, in any case, with spaces and punctuation around it ("Stop!",
" pausa. ") and accents folded ("Pausá", "AYÚDA"): "stop please" or "S T O P" is a reply, not a
keyword. English and Spanish, the same for every language's patients (the answer is in the
enrollment's language: worker.replies). REVOKE and OPTOUT are kept beside the contract's list:
Twilio and the FCC's 2025 revocation rule count them as opt-outs too.
"""

from __future__ import annotations

import re
from enum import StrEnum

from worker.redflags.text import fold


class Keyword(StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"
    PAUSE = "pause"


WORDS: dict[Keyword, frozenset[str]] = {
    Keyword.STOP: frozenset(
        {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "PARAR", "ALTO", "CANCELAR", "BAJA"}
        | {"REVOKE", "OPTOUT"}
    ),
    Keyword.START: frozenset({"START", "UNSTOP", "YES", "COMENZAR"}),
    Keyword.HELP: frozenset({"HELP", "INFO", "AYUDA"}),
    Keyword.PAUSE: frozenset({"PAUSE", "PAUSA"}),
}
_BY_WORD = {word: kind for kind, words in WORDS.items() for word in words}
_AROUND = re.compile(r"^[\W_]+|[\W_]+$")


def keyword(body: str) -> Keyword | None:
    """The keyword an inbound SMS is, if it is one (see the module's docstring)."""
    if len(body) > 64:  # no keyword is that long: a long reply is never folded for nothing
        return None
    word = _AROUND.sub("", fold(body)).upper()
    return _BY_WORD.get(word)
