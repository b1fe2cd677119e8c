"""Reading a content file (program.yaml, strings, frozen versions, red flags): its top-level mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from worker.errors import ContentError


def read_yaml_mapping(path: Path, what: str = "a mapping") -> dict[str, Any]:
    """A content file's top-level mapping; ContentError naming the file when missing, not YAML or not a mapping."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ContentError(f"{path}: file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ContentError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ContentError(f"{path}: {what} is needed at the top")
    return data
