"""Bulk intake: many enrollments from one file (CSV or JSON lines), each row as a single one.

Each row is validated exactly as POST /v1/enrollments validates a body (`worker.intake`), gets
the same derived id, and is stored by the same create (one enroll.lua call with its due entries
and number note): a row is enrolled whole or not at all, and the same file again changes nothing.
Valid rows are stored even when other rows are rejected; every rejected row is reported (row
number, field, reason). A row repeating an earlier row's (clinic, patient_ref, program) is
rejected. The creates of 1,000 rows share one round trip; a row whose earlier enrollment ended,
or that has a later generation, goes through `worker.enrollment.enroll` itself. A dry run stores
nothing and reports what would happen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from worker import audit
from worker.bulk_rows import Row, RowError
from worker.deps import EngineDeps
from worker.enrollment import ENDED, NewEnrollment, build_enrollment, enroll
from worker.errors import ValidationError
from worker.intake import parse_enrollment
from worker.records import Enrollment
from worker.routing import blind_index
from worker.store import Created
from worker.tokens import enrollment_id

CHUNK_ROWS = 1000  # rows whose creates share one round trip
ClinicCheck = Callable[[str], None]  # raises ValidationError for a clinic id that may not enroll


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row that was not enrolled: its number in the file, the field at fault and why."""

    row: int
    field: str
    reason: str


@dataclass
class BulkReport:
    """What a bulk intake did (or, in a dry run, would do) with each row of the file."""

    rows: int = 0
    created: int = 0
    existing: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    dry_run: bool = False
    reported: int = field(default=0, repr=False)  # rows already passed to `progress`

    def as_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.created,
            "existing": self.existing,
            "rejected": [{"row": r.row, "field": r.field, "reason": r.reason} for r in self.rejected],
            "dry_run": self.dry_run,
        }


@dataclass(frozen=True)
class Source:
    """Whose rows: `clinic_id` for every row (the API key's, `--clinic`), or None: each row names
    its own in a clinic_id column, checked by `check_clinic`."""

    clinic_id: str | None
    check_clinic: ClinicCheck = lambda _cid: None
    actor: str = audit.SYSTEM  # who the audit trail names for each new enrollment (worker.audit)


def bulk_enroll(
    deps: EngineDeps,
    rows: Iterable[Row | RowError],
    source: Source,
    *,
    dry_run: bool = False,
    progress: Callable[[int], None] = lambda _n: None,
) -> BulkReport:
    """Enroll every valid row of a file (`worker.bulk_rows.read_rows`, which refuses a file as
    a whole before any row); `progress(n)` after each n rows handled.

    While one chunk's creates are on their way to Redis (in a second thread, one chunk at a
    time, in file order), the next chunk is validated."""
    report = BulkReport(dry_run=dry_run)
    seen: dict[tuple[str, str, str], int] = {}
    clinics: dict[str, ValidationError | None] = {}
    zones: dict[str, ZoneInfo] = {}  # held here, so ZoneInfo's own cache keeps every zone of the file
    chunk: list[NewEnrollment] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulk-store") as pool:
        storing: Future[tuple[int, int]] | None = None
        for item in rows:
            report.rows += 1
            try:
                new = _validate(deps, item, source, clinics)
                _first_time(new, item.number, seen)
                zones.setdefault(new.timezone, ZoneInfo(new.timezone))
                chunk.append(new)
            except ValidationError as exc:
                reason = exc.message.removeprefix(f"{exc.field}: ")  # a model-level message names its field
                report.rejected.append(Rejected(item.number, exc.field, reason))
            if len(chunk) >= CHUNK_ROWS:
                _collect(storing, report, progress)
                storing, chunk = pool.submit(_store, deps, chunk, dry_run, source.actor), []
        _collect(storing, report, progress)
        _collect(pool.submit(_store, deps, chunk, dry_run, source.actor), report, progress)
    return report


def _collect(storing: Future[tuple[int, int]] | None, report: BulkReport, progress: Callable[[int], None]) -> None:
    """Wait for a chunk's creates; count them and tell `progress` how many rows are done since."""
    if storing is None:
        return
    created, existing = storing.result()
    report.created += created
    report.existing += existing
    done = report.created + report.existing + len(report.rejected)
    progress(done - report.reported)
    report.reported = done


def _validate(
    deps: EngineDeps, item: Row | RowError, source: Source, clinics: dict[str, ValidationError | None]
) -> NewEnrollment:
    if isinstance(item, RowError):
        raise ValidationError(item.field, item.reason)
    return parse_enrollment(_clinic_of(item, source, clinics), item.payload, deps)


def _clinic_of(row: Row, source: Source, clinics: dict[str, ValidationError | None]) -> str:
    if source.clinic_id is not None:
        if row.clinic_id and row.clinic_id != source.clinic_id:
            raise ValidationError("clinic_id", f"must be empty or {source.clinic_id}")
        return source.clinic_id
    if not row.clinic_id:
        raise ValidationError("clinic_id", "required: give a clinic_id column, or one clinic for every row")
    if row.clinic_id not in clinics:
        try:
            source.check_clinic(row.clinic_id)
            clinics[row.clinic_id] = None
        except ValidationError as exc:
            clinics[row.clinic_id] = exc
    refused = clinics[row.clinic_id]
    if refused is not None:
        raise ValidationError("clinic_id", refused.message)
    return row.clinic_id


def _first_time(new: NewEnrollment, row: int, seen: dict[tuple[str, str, str], int]) -> None:
    key = (new.clinic_id, new.patient_ref, new.program)
    if key in seen:
        raise ValidationError("patient_ref", f"repeats row {seen[key]} (the same patient_ref and program)")
    seen[key] = row


def _store(deps: EngineDeps, chunk: list[NewEnrollment], dry_run: bool, actor: str) -> tuple[int, int]:
    """Create the chunk's enrollments (a dry run: only look): (created, already enrolled); each
    new one audited as done by `actor`, as a single enroll is."""
    if not chunk:
        return 0, 0
    now = deps.clock.now()
    built = [build_enrollment(deps, new, now) for new in chunk]
    if dry_run:
        return _foresee(deps, chunk, built)
    items = [
        (e, blind_index(deps.index, new.phone) if new.phone else None) for new, e in zip(chunk, built, strict=True)
    ]
    answers = deps.store.create_enrollments(items, ttl_s=deps.retention_s)
    created = existing = 0
    entries = []
    for new, built_one, made in zip(chunk, built, answers, strict=True):
        if not made.created and (made.later_generation is not None or made.state in ENDED):
            # an ended one, or a later generation: the single path walks them (and audits)
            made = Created(enroll(deps, new, actor=actor)[1])
        elif made.created:
            entries.append(audit.new_entry(deps.clock, actor, audit.Action.ENROLL,
                                           enrollment_id=built_one.id, clinic_id=built_one.clinic_id))  # fmt: skip
        created, existing = (created + 1, existing) if made.created else (created, existing + 1)
    deps.store.append_audits(entries, deps.retention_days * 86400)
    return created, existing


def _foresee(deps: EngineDeps, chunk: list[NewEnrollment], built: list[Enrollment]) -> tuple[int, int]:
    """What `_store` would do, from what is stored under each id (two round trips at most):
    (would create, already enrolled)."""
    heads = deps.store.enrollment_heads([e.id for e in built])
    fresh = [state is None or state in ENDED for state, gen in heads if gen is None]
    later = [(new, gen) for new, (_, gen) in zip(chunk, heads, strict=True) if gen is not None]
    later_ids = [enrollment_id(deps.secret, n.clinic_id, n.patient_ref, n.program, gen) for n, gen in later]
    fresh += (
        [state is None or state in ENDED for state, _ in deps.store.enrollment_heads(later_ids)] if later_ids else []
    )
    return sum(fresh), len(fresh) - sum(fresh)
