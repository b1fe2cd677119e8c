"""The program catalog as operators list it (`caredrip programs`): each program with a version
and its active enrollments.

Programs carry no version of their own yet: a program's version is a content hash of its
folder (program.yaml and every strings file: the first 12 hex digits of a SHA-256 over their
paths and bytes), so any edit gives a new one. Enrollments do not record the version they
started on, so `active` counts a program's active enrollments whatever version they began with.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from worker.errors import ContentError
from worker.programs import ProgramCatalog
from worker.store import Store


@dataclass(frozen=True, slots=True)
class ProgramRow:
    id: str
    name: str
    version: str
    languages: tuple[str, ...]
    steps: int
    active: int
    error: str = ""  # the program does not load: why (lint says more)


def content_version(folder: Path) -> str:
    """A hash of every file under the program's folder: its paths and bytes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def list_programs(catalog: ProgramCatalog, store: Store) -> list[ProgramRow]:
    """Every program of the catalog, by id, with its version and active enrollments."""
    active = store.active_by_program()
    rows: list[ProgramRow] = []
    for pid in catalog.ids():
        version = content_version(catalog.content_dir / pid)
        try:
            program = catalog.get(pid)
        except ContentError as exc:
            rows.append(ProgramRow(pid, "", version, (), 0, active.get(pid, 0), str(exc)))
            continue
        rows.append(ProgramRow(pid, program.name, version, program.languages, len(program.steps), active.get(pid, 0)))
    return rows


def rows_json(rows: list[ProgramRow]) -> list[dict[str, object]]:
    return [
        {"id": r.id, "name": r.name, "version": r.version, "languages": list(r.languages), "steps": r.steps,
         "active": r.active, **({"error": r.error} if r.error else {})}
        for r in rows
    ]  # fmt: skip
