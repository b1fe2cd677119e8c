"""Load and validate `content/<program>/program.yaml` and its strings into Program/Step objects."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

from worker.content_yaml import read_yaml_mapping
from worker.errors import ContentError
from worker.program_versions import declared_version, frozen_path, read_frozen
from worker.records import CHANNELS

# The step-less SMS that introduces the clinic and STOP/HELP to a number reached mid-program (SMS
# added by PATCH, a new phone number): `intro.sms` in each strings file; without one, the first
# SMS step's words are used (they name the clinic and the keywords too: `caredrip lint` checks).
INTRO_ID = "intro"
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
STRING_KEYS = ("sms", "subject", "email")
MAX_ANCHOR_DAYS = 366  # an anchored step lands at most this many days before or after its anchor


class CatchUp(StrEnum):
    """What a program does with steps whose time had already passed when the enrollment started,
    its anchor moved back, or a pause ended (worker.catchup): send them all (one per allowed
    slot, today's behaviour and the default), only the most recent, or none."""

    ALL = "all"
    LATEST = "latest"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Step:
    """One lesson: when it lands (`day` + `at` local, or `after_minutes`) and on which channels.

    `anchor`: the name of the clinic's date the step is timed from (`from:` in program.yaml);
    None: from the enrollment's start. An anchored step's `day` may be negative (before the date)
    and its `at` may be None (the anchor's own local time of day)."""

    id: str
    channels: tuple[str, ...]
    day: int | None = None
    at: time | None = None
    after_minutes: int | None = None
    anchor: str | None = None

    @property
    def is_relative(self) -> bool:
        return self.after_minutes is not None


INTRO_STEP = Step(INTRO_ID, ("sms",), after_minutes=0)


@dataclass(frozen=True, slots=True)
class Program:
    """A program: its steps in order and its words per language (`strings[lang][step][key]`)."""

    id: str
    name: str
    languages: tuple[str, ...]
    sms_segment_budget: dict[str, int]
    steps: tuple[Step, ...]
    strings: dict[str, dict[str, dict[str, str]]]
    fallback_first_name: dict[str, str]
    intro: dict[str, str] = field(default_factory=dict)  # language -> the introduction's SMS template
    # The released version these steps are (worker.program_versions); 1 when none is declared.
    version: int = 1
    anchors: tuple[str, ...] = ()  # the dates an enrollment must give (`anchors:` in program.yaml)
    catch_up: CatchUp = CatchUp.ALL
    # steps_for's answers, computed once (the send path asks several times a message).
    _timelines: dict[str, tuple[Step, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        channels = {ch for s in self.steps for ch in s.channels}
        timelines = {str(ch): tuple(s for s in self.steps if ch in s.channels) for ch in channels}
        object.__setattr__(self, "_timelines", timelines)

    def steps_for(self, channel: str) -> tuple[Step, ...]:
        """The steps that use `channel`, in program order: that channel's timeline."""
        return self._timelines.get(channel, ())

    def intro_text(self, language: str) -> str | None:
        """The introduction's SMS template in `language`: its own, or the first SMS step's."""
        own = self.intro.get(language)
        if own is not None:
            return own
        first = next(iter(self.steps_for("sms")), None)
        return None if first is None else self.strings.get(language, {}).get(first.id, {}).get("sms")

    def step(self, step_id: str) -> Step:
        if step_id == INTRO_ID:
            return INTRO_STEP
        for step in self.steps:
            if step.id == step_id:
                return step
        raise ContentError(f"program {self.id}: no step {step_id!r}")


def load_program(content_dir: Path, program_id: str, version: int | None = None) -> Program:
    """Read and validate one program; raise ContentError naming the file and field.

    `version`: the steps of that released version (its frozen file, worker.program_versions),
    worded by today's strings; None, or the version program.yaml declares: program.yaml's steps."""
    current = _load_current(content_dir, program_id)
    if version is None or version == current.version:
        return current
    return _load_version(content_dir, current, version)


def _load_version(content_dir: Path, current: Program, version: int) -> Program:
    """`current` with the steps of released `version`, worded by today's strings files."""
    path = frozen_path(content_dir / current.id, version)
    raw_steps = read_frozen(path, current.id, version).steps
    steps = tuple(_parse_step(raw, path, i, current.anchors) for i, raw in enumerate(raw_steps))
    _check_ids(steps, path)
    folder = content_dir / current.id
    strings = {lang: _load_strings(folder / "strings" / f"{lang}.yaml", steps)[0] for lang in current.languages}
    return dataclasses.replace(current, steps=steps, strings=strings, version=version)


def _load_current(content_dir: Path, program_id: str) -> Program:
    folder = content_dir / program_id
    path = folder / "program.yaml"
    data = read_yaml_mapping(path)
    if data.get("id") != program_id:
        raise ContentError(f"{path}: id must be {program_id!r} (the folder name)")
    languages = tuple(_require(data, "languages", list, path))
    if not languages:
        raise ContentError(f"{path}: languages: at least one is needed")
    budget = _require(data, "sms_segment_budget", dict, path)
    for lang in languages:
        if not isinstance(budget.get(lang), int) or budget[lang] < 1:
            raise ContentError(f"{path}: sms_segment_budget.{lang}: a whole number >= 1 is needed")
    anchors = _parse_anchors(data.get("anchors", []), path)
    catch_up = data.get("catch_up", CatchUp.ALL.value)
    if catch_up not in {c.value for c in CatchUp}:
        raise ContentError(f"{path}: catch_up: one of {', '.join(c.value for c in CatchUp)}")
    raw_steps = _require(data, "steps", list, path)
    steps = tuple(_parse_step(raw, path, i, anchors) for i, raw in enumerate(raw_steps))
    if not steps:
        raise ContentError(f"{path}: steps: at least one is needed")
    _check_ids(steps, path)
    strings: dict[str, dict[str, dict[str, str]]] = {}
    fallback: dict[str, str] = {}
    intro: dict[str, str] = {}
    for lang in languages:
        strings_path = folder / "strings" / f"{lang}.yaml"
        strings[lang], fallback[lang] = _load_strings(strings_path, steps)
        text = _load_intro(strings_path)
        if text is not None:
            intro[lang] = text
    return Program(
        id=program_id,
        name=str(_require(data, "name", str, path)),
        languages=tuple(str(lang) for lang in languages),
        sms_segment_budget={str(k): int(v) for k, v in budget.items()},
        steps=steps,
        strings=strings,
        fallback_first_name=fallback,
        intro=intro,
        version=declared_version(data, path) or 1,
        anchors=anchors,
        catch_up=CatchUp(catch_up),
    )


def _check_ids(steps: tuple[Step, ...], path: Path) -> None:
    ids = [s.id for s in steps]
    if len(set(ids)) != len(ids):
        raise ContentError(f"{path}: steps: duplicate step id")
    if INTRO_ID in ids:
        raise ContentError(f"{path}: steps: {INTRO_ID!r} is reserved for the introduction SMS")


def list_programs(content_dir: Path) -> list[str]:
    """The ids of every program folder under `content_dir`."""
    if not content_dir.is_dir():
        return []
    return sorted(p.name for p in content_dir.iterdir() if (p / "program.yaml").is_file())


class ProgramCatalog:
    """Programs loaded once per process, by id and version; unknown ids raise ContentError."""

    def __init__(self, content_dir: Path) -> None:
        self.content_dir = content_dir
        self._programs: dict[tuple[str, int | None], Program] = {}

    def get(self, program_id: str, version: int | None = None) -> Program:
        """The program as program.yaml has it now (`version` None: what a new enrollment starts
        on), or the steps of released `version` (what an enrollment that started on it follows)."""
        key = (program_id, version)
        if key not in self._programs:
            if not _ID_RE.match(program_id) or program_id not in list_programs(self.content_dir):
                raise ContentError(f"unknown program {program_id!r}")
            current = self.get(program_id) if version is not None else None
            if current is not None and version == current.version:
                self._programs[key] = current
            else:
                self._programs[key] = load_program(self.content_dir, program_id, version)
        return self._programs[key]

    def ids(self) -> list[str]:
        return list_programs(self.content_dir)


@cache
def catalog_for(content_dir: Path) -> ProgramCatalog:
    return ProgramCatalog(content_dir)


def _parse_anchors(raw: Any, path: Path) -> tuple[str, ...]:
    """`anchors:`: the names of the dates an enrollment gives, e.g. `[visit]`."""
    if not isinstance(raw, list) or any(not isinstance(a, str) or not _ID_RE.match(a) for a in raw):
        raise ContentError(f"{path}: anchors: a list of names (lowercase letters, digits and '-')")
    if len(set(raw)) != len(raw):
        raise ContentError(f"{path}: anchors: duplicate name")
    return tuple(raw)


def _parse_step(raw: Any, path: Path, index: int, anchors: tuple[str, ...] = ()) -> Step:
    where = f"{path}: steps[{index}]"
    if not isinstance(raw, dict):
        raise ContentError(f"{where}: a mapping is needed")
    step_id = raw.get("id")
    if not isinstance(step_id, str) or not _ID_RE.match(step_id):
        raise ContentError(f"{where}.id: lowercase letters, digits and '-' only")
    channels = raw.get("channels")
    if not isinstance(channels, list) or not channels or any(c not in CHANNELS for c in channels):
        raise ContentError(f"{where}.channels: a list of {', '.join(CHANNELS)}")
    if "from" in raw:
        return _parse_anchored(raw, where, step_id, tuple(channels), anchors)
    has_day = "day" in raw or "at" in raw
    if has_day == ("after_minutes" in raw):
        raise ContentError(f"{where}: give either day + at, or after_minutes")
    if "after_minutes" in raw:
        minutes = raw["after_minutes"]
        if not isinstance(minutes, int) or minutes < 0:
            raise ContentError(f"{where}.after_minutes: a whole number >= 0")
        return Step(step_id, tuple(channels), after_minutes=minutes)
    day, at = raw.get("day"), raw.get("at")
    if not isinstance(day, int) or day < 0:
        raise ContentError(f"{where}.day: a whole number >= 0 (a negative day needs `from:` an anchor)")
    return Step(step_id, tuple(channels), day=day, at=_parse_at(at, where))


def _parse_anchored(
    raw: dict[str, Any], where: str, step_id: str, channels: tuple[str, ...], anchors: tuple[str, ...]
) -> Step:
    """A step timed from an anchor: `from: visit`, `day: -2` (any sign), optional `at: "10:00"`."""
    name = raw["from"]
    if name not in anchors:
        declared = ", ".join(anchors) or "none"
        raise ContentError(f"{where}.from: {name!r} is not a declared anchor (anchors: {declared})")
    if "after_minutes" in raw:
        raise ContentError(f"{where}: a step timed from an anchor gives day (+ at), not after_minutes")
    day = raw.get("day")
    if not isinstance(day, int) or isinstance(day, bool) or abs(day) > MAX_ANCHOR_DAYS:
        raise ContentError(f"{where}.day: a whole number of days from {name} (-{MAX_ANCHOR_DAYS}..{MAX_ANCHOR_DAYS})")
    at = None if raw.get("at") is None else _parse_at(raw["at"], where)
    return Step(step_id, channels, day=day, at=at, anchor=str(name))


def _parse_at(at: Any, where: str) -> time:
    match = _TIME_RE.match(str(at)) if isinstance(at, str) else None
    if not match:
        raise ContentError(f'{where}.at: a local time as "HH:MM"')
    return time(int(match[1]), int(match[2]))


def _load_strings(path: Path, steps: tuple[Step, ...]) -> tuple[dict[str, dict[str, str]], str]:
    data = read_yaml_mapping(path)
    fallback = data.get("_fallback_first_name")
    if not isinstance(fallback, str) or not fallback.strip():
        raise ContentError(f"{path}: _fallback_first_name: a non-empty string is needed")
    strings: dict[str, dict[str, str]] = {}
    for step in steps:
        block = data.get(step.id)
        if not isinstance(block, dict):
            raise ContentError(f"{path}: {step.id}: missing translation")
        needed = (["sms"] if "sms" in step.channels else []) + (
            ["subject", "email"] if "email" in step.channels else []
        )
        for key in needed:
            if not isinstance(block.get(key), str) or not block[key].strip():
                raise ContentError(f"{path}: {step.id}.{key}: missing translation")
        strings[step.id] = {k: str(v) for k, v in block.items() if k in STRING_KEYS}
    return strings, fallback


def _load_intro(path: Path) -> str | None:
    """`intro.sms` of a strings file, if it has one."""
    block = read_yaml_mapping(path).get(INTRO_ID)
    if block is None:
        return None
    if not isinstance(block, dict) or not isinstance(block.get("sms"), str) or not block["sms"].strip():
        raise ContentError(f"{path}: {INTRO_ID}.sms: a non-empty string is needed")
    return str(block["sms"])


def _require(data: dict[str, Any], key: str, kind: type, path: Path) -> Any:
    value = data.get(key)
    if not isinstance(value, kind):
        raise ContentError(f"{path}: {key}: a {kind.__name__} is needed")
    return value
