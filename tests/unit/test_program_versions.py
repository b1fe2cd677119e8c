"""Program versions offline: freezing, loading a released version's steps, and the lint rules
that keep a released version whole (worker.program_versions, worker.lint.versions)."""

from __future__ import annotations

from datetime import time as clock_time
from pathlib import Path

import pytest
import yaml

from tests.support.versions import ADDED, NEW_WORDS, REMOVED, REWORDED, copy_content, ship_v2
from worker.errors import ContentError
from worker.lint import LintReport, lint_content
from worker.policy import Caps, QuietHours
from worker.program_versions import freeze, frozen_path, read_frozen
from worker.programs import ProgramCatalog, load_program

ROOT = Path(__file__).resolve().parents[2]
QUIET = QuietHours(clock_time(21, 0), clock_time(8, 0))
CAPS = Caps({"sms": 1}, {"sms": 3})


@pytest.fixture(scope="module")
def nltk_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nltk_data")


def version_lines(content: Path, nltk_dir: Path) -> list[str]:
    report: LintReport = lint_content(content, ROOT / "templates", QUIET, CAPS, readability_dir=nltk_dir)
    return [line for line in report.problems if "version" in line]


def test_an_older_version_keeps_its_steps_and_takes_today_s_words(tmp_path: Path) -> None:
    content = copy_content(tmp_path)
    v1_ids = [s.id for s in load_program(content, "twitching").steps]
    ship_v2(content)
    catalog = ProgramCatalog(content)
    current, v1 = catalog.get("twitching"), catalog.get("twitching", 1)
    assert (current.version, v1.version) == (2, 1) and catalog.get("twitching", 2) is current
    assert [s.id for s in v1.steps] == v1_ids and REMOVED in v1_ids and ADDED["id"] not in v1_ids
    assert v1.strings["en"][REWORDED]["sms"] == NEW_WORDS
    with pytest.raises(ContentError, match=r"versions/3\.yaml: file not found"):
        catalog.get("twitching", 3)


def test_freeze_writes_once_and_never_overwrites_other_steps(tmp_path: Path) -> None:
    folder = copy_content(tmp_path) / "twitching"
    assert freeze(folder) == (1, False)  # the shipped version 1 is frozen already
    program = folder / "program.yaml"
    program.write_text(program.read_text().replace('at: "19:00"', 'at: "18:00"'))
    with pytest.raises(ContentError, match=r"version 1 is already frozen with other steps: .*version: 2"):
        freeze(folder)
    program.write_text(program.read_text().replace("version: 1", "version: 2"))
    assert freeze(folder) == (2, True)
    frozen = read_frozen(frozen_path(folder, 2), "twitching", 2)
    assert frozen.intact and any(s.get("at") == "18:00" for s in frozen.steps)


def test_an_undeclared_version_cannot_be_frozen(tmp_path: Path) -> None:
    folder = copy_content(tmp_path) / "twitching"
    program = folder / "program.yaml"
    program.write_text(program.read_text().replace("version: 1\n", ""))
    with pytest.raises(ContentError, match="version: declare one"):
        freeze(folder)


def test_a_clean_release_passes_the_version_rules(tmp_path: Path, nltk_dir: Path) -> None:
    content = copy_content(tmp_path)
    ship_v2(content, retime=False)
    assert version_lines(content, nltk_dir) == []


def test_a_step_id_retimed_across_versions_is_refused(tmp_path: Path, nltk_dir: Path) -> None:
    content = copy_content(tmp_path)
    ship_v2(content)  # exercise-stretching: day 16 in version 1, day 17 in version 2
    [line] = version_lines(content, nltk_dir)
    assert "exercise-stretching: version: its time changed from version 1 (at: 10:00, day: 16)" in line
    assert "in version 2 (at: 10:00, day: 17): a moved step needs a new id" in line


def test_an_edit_without_a_new_version_is_refused(tmp_path: Path, nltk_dir: Path) -> None:
    content = copy_content(tmp_path)
    program = content / "twitching" / "program.yaml"
    program.write_text(program.read_text().replace('at: "19:00"', 'at: "18:30"'))
    lines = version_lines(content, nltk_dir)
    assert any("program.yaml: version: the steps differ from frozen version 1" in line for line in lines)
    assert any("sleep: version: its time changed from version 1" in line for line in lines)


def test_an_unfrozen_or_missing_version_is_refused(tmp_path: Path, nltk_dir: Path) -> None:
    content = copy_content(tmp_path)
    ship_v2(content, retime=False)
    frozen_path(content / "twitching", 2).unlink()
    frozen_path(content / "twitching", 1).unlink()
    lines = version_lines(content, nltk_dir)
    assert any("versions/1.yaml: version: missing: enrollments that started on version 1" in line for line in lines)
    unfrozen = "versions/2.yaml: version: version 2 is not frozen: run `caredrip programs freeze twitching`"
    assert any(unfrozen in line for line in lines)


def test_words_of_a_step_only_an_older_version_has_must_stay(tmp_path: Path, nltk_dir: Path) -> None:
    content = copy_content(tmp_path)
    ship_v2(content, retime=False)
    strings = content / "twitching" / "strings" / "es.yaml"
    data = yaml.safe_load(strings.read_text())
    del data[REMOVED]
    strings.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10_000))
    assert version_lines(content, nltk_dir) == [f"{strings}: {REMOVED}: missing translation (version 1)"]


def test_a_version_frozen_past_the_declared_one_is_refused(tmp_path: Path, nltk_dir: Path) -> None:
    content = copy_content(tmp_path)
    ship_v2(content, retime=False)
    program = content / "twitching" / "program.yaml"
    program.write_text(program.read_text().replace("version: 2", "version: 1"))
    lines = version_lines(content, nltk_dir)
    assert any("versions/2.yaml: version: frozen past the declared version 1" in line for line in lines)


def test_frozen_versions_without_a_declared_one_are_refused(tmp_path: Path, nltk_dir: Path) -> None:
    content = copy_content(tmp_path)
    program = content / "twitching" / "program.yaml"
    program.write_text(program.read_text().replace("version: 1\n", ""))
    [line] = version_lines(content, nltk_dir)
    expected = "program.yaml: version: none declared, but versions/ holds frozen versions 1: declare the current one"
    assert line.endswith(expected)
