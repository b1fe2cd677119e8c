"""Ship an edited program in a copy of the content: the twitching program's version 2 (a step
added before a patient's cursor, one removed, one moved under a new id, one moved keeping its
id, one reworded)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from worker.program_versions import freeze

ROOT = Path(__file__).resolve().parents[2]
ADDED = {"id": "check-in", "day": 3, "at": "12:00", "channels": ["sms", "email"]}
MOVED = {"id": "call-us", "day": 12, "at": "10:00", "channels": ["sms", "email"]}  # was when-to-call, day 13
REMOVED = "minerals"
RETIMED = "exercise-stretching"  # day 16 -> 17 under the same id: lint refuses it; the engine still pins it
REWORDED = "remedies"  # in both versions: patients of either get version 2's words
NEW_WORDS = "Hi {{ first_name }}, a warm cloth and a gentle rub can calm a twitching muscle."


def copy_content(tmp_path: Path) -> Path:
    """A copy of the shipped content (twitching at version 1, frozen) to edit."""
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content" / "twitching", content / "twitching")
    return content


def v2_steps(v1: list[dict[str, Any]], *, retime: bool = True) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for raw in v1:
        step = dict(raw)
        if step["id"] == "hydration":
            steps += [step, dict(ADDED)]
            continue
        if step["id"] == REMOVED:
            continue
        if step["id"] == "when-to-call":
            step = dict(MOVED)
        if step["id"] == RETIMED and retime:
            step["day"] = 17
        steps.append(step)
    return steps


def ship_v2(content: Path, *, retime: bool = True) -> list[dict[str, Any]]:
    """Edit twitching into version 2 (program.yaml and words for the new ids) and freeze it."""
    folder = content / "twitching"
    program = yaml.safe_load((folder / "program.yaml").read_text())
    program["version"] = 2
    program["steps"] = v2_steps(program["steps"], retime=retime)
    (folder / "program.yaml").write_text(yaml.safe_dump(program, sort_keys=False))
    for language in ("en", "es"):
        path = folder / "strings" / f"{language}.yaml"
        strings = yaml.safe_load(path.read_text())
        for new, like in ((ADDED["id"], "hydration"), (MOVED["id"], "when-to-call")):
            strings[new] = dict(strings[like])
        strings[REWORDED]["sms"] = NEW_WORDS
        path.write_text(yaml.safe_dump(strings, sort_keys=False, allow_unicode=True, width=10_000))
    freeze(folder)
    return list(program["steps"])
