"""Released program versions: `version: N` in program.yaml, each release's steps frozen in
`content/<program>/versions/<N>.yaml`.

An enrollment follows the steps of the version it started on until it ends (its cursor is a
place in that version's list of steps), so shipping an edited program never re-sends or skips a
step for a patient in flight. A frozen file holds the release's steps exactly as program.yaml
wrote them (ids, timing, channels: whatever a step mapping says) and the SHA-256 of their
canonical JSON, so an edit after release is seen (`caredrip lint`). Words are not frozen: the
strings files word every version's steps by step id (worker.programs).

`caredrip programs freeze PROGRAM` writes the declared version's file; it never overwrites a
different one (a changed schedule is a new version).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from worker.content_yaml import read_yaml_mapping
from worker.errors import ContentError

VERSIONS_DIR = "versions"
_HEADER = (
    "# Version {version} of {program}, frozen by `caredrip programs freeze {program}`. Do not edit:\n"
    "# enrollments that started on version {version} follow these steps until they end, and\n"
    "# `caredrip lint` checks them against sha256. A changed schedule is a new version.\n"
)


@dataclass(frozen=True, slots=True)
class FrozenVersion:
    """One released version's steps as program.yaml wrote them, and the digest recorded with them."""

    program: str
    version: int
    steps: list[dict[str, Any]]
    sha256: str

    @property
    def intact(self) -> bool:
        """The steps are still those the digest was taken of (nobody edited the file since)."""
        return steps_digest(self.steps) == self.sha256


def declared_version(data: dict[str, Any], path: Path) -> int | None:
    """program.yaml's `version` (a whole number >= 1), None when it declares none."""
    if "version" not in data:
        return None
    value = data["version"]
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ContentError(f"{path}: version: a whole number >= 1")
    return value


def frozen_path(folder: Path, version: int) -> Path:
    return folder / VERSIONS_DIR / f"{version}.yaml"


def frozen_versions(folder: Path) -> list[int]:
    """The versions with a frozen file under `folder/versions/`, in order."""
    directory = folder / VERSIONS_DIR
    if not directory.is_dir():
        return []
    return sorted(int(p.stem) for p in directory.glob("*.yaml") if p.stem.isdigit() and not p.stem.startswith("0"))


def steps_digest(steps: list[dict[str, Any]]) -> str:
    """SHA-256 of the steps' canonical JSON (keys sorted): the same schedule, the same digest."""
    canonical = json.dumps(steps, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def step_timing(step: dict[str, Any]) -> dict[str, Any]:
    """What says when a step lands: everything in its mapping but its id and channels."""
    return {k: v for k, v in step.items() if k not in ("id", "channels")}


def read_frozen(path: Path, program_id: str, version: int) -> FrozenVersion:
    """The frozen file of `version`; ContentError when missing, malformed or for another program
    or version. Its digest is not checked here (lint does: the worker keeps sending what it says)."""
    data = read_yaml_mapping(path)
    if data.get("program") != program_id or data.get("version") != version:
        raise ContentError(f"{path}: program and version must be {program_id!r} and {version}")
    steps, digest = data.get("steps"), data.get("sha256")
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps) or not steps:
        raise ContentError(f"{path}: steps: a list of step mappings is needed")
    if not isinstance(digest, str):
        raise ContentError(f"{path}: sha256: the digest of the steps is needed")
    return FrozenVersion(program_id, version, steps, digest)


def draft(folder: Path) -> tuple[int | None, list[dict[str, Any]]]:
    """program.yaml's declared version and its steps as written (what `freeze` would write)."""
    path = folder / "program.yaml"
    data = read_yaml_mapping(path)
    steps = data.get("steps")
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        raise ContentError(f"{path}: steps: a list of step mappings is needed")
    return declared_version(data, path), steps


def freeze(folder: Path) -> tuple[int, bool]:
    """Write the declared version's frozen file from program.yaml: (version, written). Already
    frozen with the same steps: nothing written. Frozen with other steps, or no version declared:
    ContentError (bump `version` instead)."""
    program_id = folder.name
    version, steps = draft(folder)
    if version is None:
        raise ContentError(f"{folder / 'program.yaml'}: version: declare one (version: 1) before freezing")
    path = frozen_path(folder, version)
    if path.exists():
        existing = read_frozen(path, program_id, version)
        if existing.intact and existing.steps == steps:
            return version, False
        raise ContentError(
            f"{path}: version {version} is already frozen with other steps: "
            f"a changed schedule is a new version (set version: {version + 1} in program.yaml)"
        )
    path.parent.mkdir(exist_ok=True)
    body = {"program": program_id, "version": version, "sha256": steps_digest(steps), "steps": steps}
    text = _HEADER.format(program=program_id, version=version) + yaml.safe_dump(
        body, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100
    )
    path.write_text(text, encoding="utf-8")
    return version, True
