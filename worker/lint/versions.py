"""Lint rules about released versions (worker.program_versions), offline, on content alone.

A program that declares `version: N` promises its patients in flight that their steps never
change. So, for every version 1..N: its frozen file exists, still has the steps its sha256 was
taken of, and N's steps are program.yaml's; no file is frozen past N; and a step id means one
time in every version (a moved step needs a new id: words follow the id, so a patient still on
the old time would get words written for the new one). Problem lines read
`<file>: version: <detail>`. A program that declares no version is only mentioned in the
summary: its edits reach patients in flight.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from worker.errors import ContentError
from worker.program_versions import draft, frozen_path, frozen_versions, read_frozen, step_timing


def version_problems(folder: Path) -> tuple[list[str], list[str]]:
    """(problems, summary lines) of the versions of the program in `folder`."""
    program_id = folder.name
    try:
        declared, steps = draft(folder)
    except ContentError:
        return [], []  # the program's own load reports it
    if declared is None:
        if frozen_versions(folder):  # patients may follow them: program.yaml must say which is current
            return [
                f"{folder / 'program.yaml'}: version: none declared, but versions/ holds frozen versions"
                f" {', '.join(str(v) for v in frozen_versions(folder))}: declare the current one"
            ], []
        return [], [f"{program_id}: no version declared: an edit reaches patients in flight (content/README.md)"]
    problems: list[str] = []
    schedules: dict[int, list[dict[str, Any]]] = {}
    for version in range(1, declared + 1):
        path = frozen_path(folder, version)
        if not path.exists():
            problems.append(_missing(path, program_id, version, declared))
            continue
        try:
            frozen = read_frozen(path, program_id, version)
        except ContentError as exc:
            problems.append(f"{exc}".replace(f"{path}: ", f"{path}: version: ", 1))
            continue
        if not frozen.intact:
            problems.append(
                f"{path}: version: edited after release: its steps no longer match its sha256 (restore the file;"
                " a changed schedule is a new version)"
            )
        schedules[version] = frozen.steps
    current = schedules.get(declared)
    if current is not None and current != steps:
        problems.append(
            f"{folder / 'program.yaml'}: version: the steps differ from frozen version {declared}: a changed schedule"
            f" is a new version (set version: {declared + 1}, then `caredrip programs freeze {program_id}`)"
        )
    for later in (v for v in frozen_versions(folder) if v > declared):
        problems.append(
            f"{frozen_path(folder, later)}: version: frozen past the declared version {declared}"
            " (to go back to older steps, release them as a new version)"
        )
    problems.extend(_moved_ids(folder, {**schedules, declared + 1: steps}))
    summary = [f"{program_id}: version {declared}; frozen {', '.join(str(v) for v in sorted(schedules))}"]
    return problems, summary


def _missing(path: Path, program_id: str, version: int, declared: int) -> str:
    if version == declared:
        return f"{path}: version: version {version} is not frozen: run `caredrip programs freeze {program_id}`"
    return (
        f"{path}: version: missing: enrollments that started on version {version} follow its steps"
        " (restore it from version control)"
    )


def _moved_ids(folder: Path, schedules: dict[int, list[dict[str, Any]]]) -> list[str]:
    """A step id whose timing differs between versions: one line per id, naming both versions.
    (program.yaml's steps are checked as the version after the declared one, so an unreleased
    edit is caught too.)"""
    first_seen: dict[str, tuple[int, dict[str, Any]]] = {}
    problems: list[str] = []
    reported: set[str] = set()
    for version in sorted(schedules):
        for raw in schedules[version]:
            step_id = str(raw.get("id"))
            timing = step_timing(raw)
            seen = first_seen.setdefault(step_id, (version, timing))
            if seen[1] != timing and step_id not in reported:
                reported.add(step_id)
                where = "program.yaml" if version == max(schedules) else f"version {version}"
                problems.append(
                    f"{folder / 'program.yaml'}: {step_id}: version: its time changed from version {seen[0]}"
                    f" ({_show(seen[1])}) in {where} ({_show(timing)}): a moved step needs a new id"
                    " (its words follow the id, into every version)"
                )
    return problems


def _show(timing: dict[str, Any]) -> str:
    return json.dumps(timing, sort_keys=True, ensure_ascii=False, default=str)[1:-1].replace('"', "")
