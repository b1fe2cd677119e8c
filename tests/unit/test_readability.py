from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import nltk
import pytest
import textstat
from nltk.corpus.reader.cmudict import CMUDictCorpusReader

from worker import readability
from worker.readability import ease_to_grade, ensure_cmudict, grade_level

REPO = Path(__file__).resolve().parents[2]
SIMPLE_EN = "Drink a glass of water with each meal. It helps your muscles."
DENSE_EN = (
    "The pharmacokinetic characteristics of glucocorticoid administration necessitate "
    "individualized consideration of comorbid hepatic insufficiency and concomitant "
    "immunosuppressive pharmacotherapy in geriatric populations."
)
SIMPLE_ES = "Beba un vaso de agua con cada comida. Es bueno para sus músculos."
DENSE_ES = (
    "La administración farmacocinética de glucocorticoides requiere una consideración "
    "individualizada de la insuficiencia hepática concomitante y de la farmacoterapia "
    "inmunosupresora en poblaciones geriátricas."
)


def _no_download(*args: object, **kwargs: object) -> bool:
    raise AssertionError("nltk.download was called")


@pytest.fixture(scope="module")
def shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One corpus for the tests that only need one: writing it costs ~0.5 s."""
    return tmp_path_factory.mktemp("nltk_data")


@pytest.fixture(autouse=True)
def offline_nltk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail on any download attempt, and restore nltk.data.path after each test."""
    monkeypatch.setattr(nltk, "download", _no_download)
    monkeypatch.setattr(nltk.data, "path", list(nltk.data.path))
    yield


def test_simple_english_is_easy(shared_dir: Path) -> None:
    assert grade_level(SIMPLE_EN, "en", data_dir=shared_dir) <= 6


def test_dense_english_is_hard(shared_dir: Path) -> None:
    assert grade_level(DENSE_EN, "en-US", data_dir=shared_dir) > 12


def test_fresh_data_dir_gets_the_corpus(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    grade_level(SIMPLE_EN, "en", data_dir=data_dir)
    corpus = data_dir / "corpora" / "cmudict" / "cmudict"
    assert corpus.stat().st_size > 1_000_000
    assert nltk.data.path[0] == str(data_dir.resolve())
    assert list(corpus.parent.iterdir()) == [corpus]  # no temp file left behind


def test_corpus_format_is_what_nltk_reads(shared_dir: Path) -> None:
    corpus = ensure_cmudict(shared_dir.resolve())
    entries = CMUDictCorpusReader(str(corpus.parent), ["cmudict"]).dict()
    assert entries["tomato"] == [
        ["T", "AH0", "M", "EY1", "T", "OW2"],
        ["T", "AH0", "M", "AA1", "T", "OW2"],
    ]
    assert len(entries) > 100_000


def test_fresh_process_never_downloads(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        import nltk

        def refuse(*args, **kwargs):
            raise SystemExit("nltk.download was called")

        nltk.download = refuse
        from worker.readability import grade_level

        print(grade_level(sys.argv[1], "en", data_dir=Path(sys.argv[2])))
        print(nltk.corpus.cmudict.root)
        """
    )
    data_dir = tmp_path / "nltk_data"
    env = {**os.environ, "HOME": str(tmp_path), "NLTK_DATA": str(tmp_path / "nothing")}
    done = subprocess.run(
        [sys.executable, "-c", script, SIMPLE_EN, str(data_dir)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    grade, root = done.stdout.split("\n")[:2]
    assert float(grade) <= 6
    assert root == str(data_dir.resolve() / "corpora" / "cmudict")


def test_default_data_dir_honours_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CAREDRIP_VAR_DIR", str(tmp_path))
    assert readability.default_data_dir() == tmp_path.resolve() / "nltk_data"
    monkeypatch.delenv("CAREDRIP_VAR_DIR")
    monkeypatch.chdir(tmp_path)
    assert readability.default_data_dir() == tmp_path.resolve() / "var" / "nltk_data"


def test_simple_spanish_is_easy(shared_dir: Path) -> None:
    assert grade_level(SIMPLE_ES, "es", data_dir=shared_dir) <= 8


def test_dense_spanish_is_hard(shared_dir: Path) -> None:
    assert grade_level(DENSE_ES, "es_MX", data_dir=shared_dir) > 12


def test_spanish_leaves_textstat_global_language_alone(
    monkeypatch: pytest.MonkeyPatch, shared_dir: Path
) -> None:
    monkeypatch.setattr(textstat.textstat, "set_lang", _no_download)
    grade_level(SIMPLE_ES, "es", data_dir=shared_dir)
    assert vars(textstat.textstat)["_textstatistics__lang"] == "en_US"


def test_second_call_does_not_rewrite_the_corpus(tmp_path: Path) -> None:
    grade_level(SIMPLE_EN, "en", data_dir=tmp_path)
    corpus = tmp_path / "corpora" / "cmudict" / "cmudict"
    mtime = corpus.stat().st_mtime_ns
    grade_level(DENSE_EN, "en", data_dir=tmp_path)
    readability._cmudict_file.cache_clear()  # as a new process: the file exists, keep it
    grade_level(SIMPLE_EN, "en", data_dir=tmp_path)
    assert corpus.stat().st_mtime_ns == mtime


@pytest.mark.parametrize(
    ("ease", "grade"),
    [
        (150.0, 4.0),
        (100.0, 4.0),
        (90.0, 5.0),
        (85.0, 5.5),
        (65.0, 8.5),
        (50.0, 12.0),
        (-40.0, 18.0),
    ],
)
def test_ease_to_grade(ease: float, grade: float) -> None:
    assert ease_to_grade(ease) == pytest.approx(grade)


def test_blank_text_and_unknown_language(shared_dir: Path) -> None:
    assert grade_level("  ", "es", data_dir=shared_dir) == 0.0
    with pytest.raises(ValueError, match="fr"):
        grade_level(SIMPLE_EN, "fr", data_dir=shared_dir)
