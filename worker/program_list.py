"""The program catalog as operators list it (`caredrip programs`): each program, its released
versions and the active enrollments on each.

A program's version is the `version` its program.yaml declares (1 when it declares none); each
released version's steps are frozen under `versions/` (worker.program_versions). An enrollment
keeps the version it started on, so a program may have enrollments on several versions at once;
they are counted per version from the due index (worker.store.census).
"""

from __future__ import annotations

from dataclasses import dataclass

from worker.errors import ContentError
from worker.program_versions import frozen_versions
from worker.programs import ProgramCatalog
from worker.store import Store


@dataclass(frozen=True, slots=True)
class VersionRow:
    version: int
    steps: int  # 0 when the version does not load (its frozen file is missing or broken)
    active: int
    frozen: bool  # its steps are frozen under versions/ (lint requires it of a declared version)


@dataclass(frozen=True, slots=True)
class ProgramRow:
    id: str
    name: str
    version: int  # the current one: what a new enrollment starts on
    languages: tuple[str, ...]
    steps: int
    active: int  # on every version
    versions: tuple[VersionRow, ...] = ()
    error: str = ""  # the program does not load: why (lint says more)


def list_programs(catalog: ProgramCatalog, store: Store) -> list[ProgramRow]:
    """Every program of the catalog, by id, with its versions and active enrollments on each."""
    active = store.active_by_version()
    rows: list[ProgramRow] = []
    for pid in catalog.ids():
        mine = {v: n for (p, v), n in active.items() if p == pid}
        try:
            program = catalog.get(pid)
        except ContentError as exc:
            versions = _versions(catalog, pid, None, mine)
            rows.append(ProgramRow(pid, "", 0, (), 0, sum(mine.values()), versions, str(exc)))
            continue
        versions = _versions(catalog, pid, program.version, mine)
        rows.append(
            ProgramRow(
                pid, program.name, program.version, program.languages, len(program.steps), sum(mine.values()), versions
            )
        )
    return rows


def _versions(catalog: ProgramCatalog, pid: str, current: int | None, active: dict[int, int]) -> tuple[VersionRow, ...]:
    """Each version frozen, current or with active enrollments, oldest first."""
    frozen = set(frozen_versions(catalog.content_dir / pid))
    numbers = sorted(frozen | set(active) | ({current} if current else set()))
    return tuple(VersionRow(v, _steps(catalog, pid, v), active.get(v, 0), v in frozen) for v in numbers)


def _steps(catalog: ProgramCatalog, pid: str, version: int) -> int:
    try:
        return len(catalog.get(pid, version).steps)
    except ContentError:
        return 0


def rows_json(rows: list[ProgramRow]) -> list[dict[str, object]]:
    return [
        {"id": r.id, "name": r.name, "version": r.version, "languages": list(r.languages), "steps": r.steps,
         "active": r.active,
         "versions": [{"version": v.version, "steps": v.steps, "active": v.active, "frozen": v.frozen}
                      for v in r.versions],
         **({"error": r.error} if r.error else {})}
        for r in rows
    ]  # fmt: skip


def versions_in_use_problems(catalog: ProgramCatalog, store: Store) -> list[str]:
    """`caredrip lint --redis`: a version with active enrollments that does not load from the
    content (its frozen file gone or broken, the program gone): those patients' next steps would
    not go. One line each, naming the program, the version and how many follow it."""
    problems: list[str] = []
    for (pid, version), count in sorted(store.active_by_version().items()):
        try:
            catalog.get(pid, version)
        except ContentError as exc:
            problems.append(f"{pid}: version: version {version} has {count} active enrollment(s), but: {exc}")
    return problems
