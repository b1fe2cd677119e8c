"""Edit a program's YAML in a copy of the content: one mapping (the program's, or a step's) gets
keys set, or dropped where the value is None."""

from __future__ import annotations

from pathlib import Path

import yaml


def edit_program(path: Path, change: dict[str, object], step: int | None = None) -> None:
    """Apply `change` to the program at `path` (its top level, or its step number `step`)."""
    data = yaml.safe_load(path.read_text())
    target = data if step is None else data["steps"][step]
    for key, value in change.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))
