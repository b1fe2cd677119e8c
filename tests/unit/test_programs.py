"""Loading programs: the shipped one, and errors that name the file and the field."""

from __future__ import annotations

import shutil
from datetime import time
from pathlib import Path

import pytest
import yaml

from worker.errors import ContentError
from worker.programs import ProgramCatalog, Step, list_programs, load_program

CONTENT = Path(__file__).resolve().parents[2] / "content"


def test_shipped_program_loads() -> None:
    program = load_program(CONTENT, "twitching")
    assert program.id == "twitching"
    assert program.languages == ("en", "es")
    assert program.sms_segment_budget == {"en": 1, "es": 2}
    assert program.steps[0] == Step("welcome", ("sms", "email"), after_minutes=0)
    assert program.steps[1] == Step("hydration", ("sms", "email"), day=2, at=time(10, 0))
    assert len(program.steps) == 11
    assert len(program.steps_for("sms")) == len(program.steps_for("email")) == 11
    for language in program.languages:
        assert set(program.strings[language]) == {s.id for s in program.steps}
        assert all(set(block) == {"sms", "subject", "email"} for block in program.strings[language].values())
    assert program.fallback_first_name == {"en": "there", "es": "paciente"}
    assert program.step("closing").day == 26


def test_catalog_and_listing() -> None:
    assert list_programs(CONTENT) == ["twitching", "visit-prep"]
    assert list_programs(CONTENT / "nowhere") == []
    catalog = ProgramCatalog(CONTENT)
    assert catalog.get("twitching") is catalog.get("twitching")
    for bad in ("nope", "../content", "Twitching"):
        with pytest.raises(ContentError, match="unknown program"):
            catalog.get(bad)


def test_unknown_step_names_program_and_step() -> None:
    with pytest.raises(ContentError, match=r"program twitching: no step 'nope'"):
        load_program(CONTENT, "twitching").step("nope")


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped content."""
    shutil.copytree(CONTENT / "twitching", tmp_path / "twitching")
    return tmp_path


def edit(path: Path, change: dict[str, object]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        target = data
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if value is None:
            del target[last]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "other"}, r"program\.yaml: id must be 'twitching'"),
        ({"languages": []}, r"program\.yaml: languages: at least one"),
        ({"languages": "en"}, r"program\.yaml: languages: a list is needed"),
        ({"sms_segment_budget": {"en": 1}}, r"program\.yaml: sms_segment_budget\.es: a whole number"),
        ({"sms_segment_budget": {"en": 0, "es": 2}}, r"program\.yaml: sms_segment_budget\.en: a whole number"),
        ({"steps": []}, r"program\.yaml: steps: at least one"),
        ({"steps.1.id": "Hydration!"}, r"program\.yaml: steps\[1\]\.id: lowercase"),
        ({"steps.1.id": "welcome"}, r"program\.yaml: steps: duplicate step id"),
        ({"steps.1.channels": ["fax"]}, r"program\.yaml: steps\[1\]\.channels: a list of sms, email"),
        ({"steps.1.at": None}, r"program\.yaml: steps\[1\]\.at: a local time"),
        ({"steps.1.at": "25:00"}, r"program\.yaml: steps\[1\]\.at: a local time"),
        ({"steps.1.at": "9:00"}, r"program\.yaml: steps\[1\]\.at: a local time"),
        ({"steps.1.day": -1}, r"program\.yaml: steps\[1\]\.day: a whole number >= 0"),
        ({"steps.1.after_minutes": 5}, r"program\.yaml: steps\[1\]: give either day \+ at, or after_minutes"),
        ({"steps.0.after_minutes": "soon"}, r"program\.yaml: steps\[0\]\.after_minutes: a whole number"),
        ({"name": None}, r"program\.yaml: name: a str is needed"),
    ],
)
def test_program_errors_name_file_and_field(copy: Path, change: dict[str, object], message: str) -> None:
    edit(copy / "twitching" / "program.yaml", change)
    with pytest.raises(ContentError, match=message) as caught:
        load_program(copy, "twitching")
    assert str(caught.value).startswith(str(copy / "twitching" / "program.yaml"))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sleep": None}, r"es\.yaml: sleep: missing translation"),
        ({"sleep.sms": None}, r"es\.yaml: sleep\.sms: missing translation"),
        ({"sleep.subject": "  "}, r"es\.yaml: sleep\.subject: missing translation"),
        ({"_fallback_first_name": ""}, r"es\.yaml: _fallback_first_name: a non-empty string"),
    ],
)
def test_strings_errors_name_file_and_field(copy: Path, change: dict[str, object], message: str) -> None:
    edit(copy / "twitching" / "strings" / "es.yaml", change)
    with pytest.raises(ContentError, match=message):
        load_program(copy, "twitching")


def test_missing_and_malformed_files(copy: Path) -> None:
    strings = copy / "twitching" / "strings" / "es.yaml"
    strings.unlink()
    with pytest.raises(ContentError, match=r"strings/es\.yaml: file not found"):
        load_program(copy, "twitching")
    strings.write_text("welcome: [unclosed\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"strings/es\.yaml: not valid YAML"):
        load_program(copy, "twitching")
    strings.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"strings/es\.yaml: a mapping is needed at the top"):
        load_program(copy, "twitching")
