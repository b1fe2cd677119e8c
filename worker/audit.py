"""The audit trail: who changed what, when, to which enrollment; kept for the retention period.

Every enroll (a new enrollment, re-enrollment included), PATCH, pause, resume, cancel, resend,
clinic key change, erasure and key rotation appends one entry, after the change succeeded (a new
enrollment's entry goes with the create, in its one round trip, and is taken back when nothing was
created). A refused or failed request appends none; so does one that changed nothing, like a
repeated enrollment event or pausing a paused enrollment. An entry says who (`actor`), what
(`action`), when (the caredrip clock), the enrollment and clinic, and a small `detail`: names and
counts, never a value that identifies a patient (a PATCH lists the fields it was given, not their
values).

Actors: `clinic:<clinic id> key:<key id>` (the API, with that clinic key), `clinic:<clinic id>
via intake` (the Celery task `caredrip.enroll`), `operator:cli` (the `caredrip` command),
`system` (caredrip on its own).

Readers: `entries()` for operators (`caredrip audit`), `page()` for a clinic (`GET /v1/audit`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from worker.clock import Clock
from worker.errors import ValidationError
from worker.store import AuditEntry, Store

OPERATOR = "operator:cli"
SYSTEM = "system"
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
SCAN_CHUNK = 500  # entries read per round trip while filtering by enrollment
SCAN_BUDGET = 5000  # most entries one API page reads while filtering; the cursor goes on from there
DETAIL_MAX_CHARS = 512
_STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")

DetailValue = str | int | bool | None | list[str]


class Action(StrEnum):
    """What an entry records."""

    ENROLL = "enroll"
    UPDATE = "update"  # PATCH; detail `fields`: the names of the fields given
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    RESEND = "resend"  # detail: `message_id`, `new_message_id`, `state`
    CLINIC_ADD = "clinic_add"  # with its first key; detail `key_id`
    CLINIC_REVOKE = "clinic_revoke"  # every key of the clinic stops
    KEY_ADD = "key_add"  # detail `key_id`
    KEY_REVOKE = "key_revoke"  # detail `key_id`
    ERASE = "erase"  # detail: what was removed, counts per kind
    KEYS_ROTATE = "keys_rotate"  # PHI re-sealed under the newest data key


class AuditDeps(Protocol):
    """What recording and reading need (worker.deps.EngineDeps has it)."""

    @property
    def clock(self) -> Clock: ...

    @property
    def store(self) -> Store: ...

    @property
    def retention_days(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Trail:
    """AuditDeps without the rest of the engine (the clinic commands need no programs)."""

    clock: Clock
    store: Store
    retention_days: int


def clinic_actor(clinic_id: str, key_id: str) -> str:
    """The actor of an API call made with the clinic key `key_id` (worker.tokens.key_id)."""
    return f"clinic:{clinic_id} key:{key_id}"


def intake_actor(clinic_id: str) -> str:
    """The actor of an enrollment sent as the Celery task `caredrip.enroll` for `clinic_id`."""
    return f"clinic:{clinic_id} via intake"


def record(
    deps: AuditDeps,
    actor: str,
    action: str,
    *,
    enrollment_id: str | None = None,
    clinic_id: str | None = None,
    detail: Mapping[str, DetailValue] | None = None,
) -> str:
    """Append one entry, at the caredrip clock's now; its id. Call it after the change succeeded.

    `detail` holds names, ids and counts only (never PHI): scalars or lists of strings, at most
    512 characters as JSON; anything else is a programming error (TypeError, ValueError)."""
    entry = new_entry(deps.clock, actor, action, enrollment_id=enrollment_id, clinic_id=clinic_id, detail=detail)
    return deps.store.append_audit(entry, deps.retention_days * 86400)


def new_entry(
    clock: Clock,
    actor: str,
    action: str,
    *,
    enrollment_id: str | None = None,
    clinic_id: str | None = None,
    detail: Mapping[str, DetailValue] | None = None,
) -> AuditEntry:
    """The entry `record` appends, for a store call that appends it with the change itself in one
    round trip (Store.create_enrollment: a new enrollment costs one round trip, not two)."""
    return AuditEntry(
        id="",
        at=clock.now(),
        actor=actor,
        action=str(action),
        enrollment_id=enrollment_id or "",
        clinic_id=clinic_id or "",
        detail=_checked_detail(detail or {}),
    )


@dataclass(frozen=True, slots=True)
class AuditPage:
    """One page of a clinic's trail, newest first; `next_cursor` None on the last page."""

    entries: list[AuditEntry]
    next_cursor: str | None


def page(
    deps: AuditDeps,
    clinic_id: str,
    *,
    enrollment_id: str | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> AuditPage:
    """The clinic's entries (only its own), newest first, after `cursor`; with `enrollment_id`,
    only that enrollment's. A filtered page reads at most SCAN_BUDGET entries: it may hold fewer
    than `limit` while `next_cursor` still says there is more. ValidationError names `cursor` for
    a cursor caredrip did not give."""
    before = decode_cursor(cursor) if cursor else None
    entries, last_read, more = _scan(deps, clinic_id, before, limit, enrollment_id, SCAN_BUDGET)
    next_cursor = encode_cursor(last_read) if more and last_read else None
    return AuditPage(entries, next_cursor)


def entries(deps: AuditDeps, *, enrollment_id: str | None = None, limit: int = 1000) -> list[AuditEntry]:
    """Every clinic's entries and the operators' own, newest first, up to `limit`; with
    `enrollment_id`, only that enrollment's (the whole trail is read for them if need be)."""
    return _scan(deps, None, None, limit, enrollment_id, None)[0]


def _scan(
    deps: AuditDeps,
    clinic_id: str | None,
    before: str | None,
    limit: int,
    enrollment_id: str | None,
    budget: int | None,
) -> tuple[list[AuditEntry], str | None, bool]:
    """(entries found, the id of the last entry read, whether more may follow). A clinic's page
    reads its index (ids and enrollment ids), then fetches the entries it keeps."""
    found: list[tuple[str, AuditEntry | None]] = []
    read, more = 0, True
    chunk = limit if enrollment_id is None else max(limit, SCAN_CHUNK)
    while more and len(found) < limit and (budget is None or read < budget):
        refs = _refs(deps, clinic_id, before, chunk)
        more = len(refs) == chunk
        for n, (ref_id, ref_enrollment, entry) in enumerate(refs, start=1):
            read += 1
            before = ref_id
            if enrollment_id is None or ref_enrollment == enrollment_id:
                found.append((ref_id, entry))
                if len(found) == limit:
                    more = more or n < len(refs)
                    break
    if clinic_id is not None and found:
        fetched = {e.id: e for e in deps.store.audit_entries([i for i, _ in found])}
        found = [(i, fetched.get(i)) for i, _ in found]
    return [e for _, e in found if e is not None], before, more


def _refs(
    deps: AuditDeps, clinic_id: str | None, before: str | None, count: int
) -> list[tuple[str, str, AuditEntry | None]]:
    if clinic_id is None:
        return [(e.id, e.enrollment_id, e) for e in deps.store.audit_page(before=before, count=count)]
    return [(i, e, None) for i, e in deps.store.audit_index(clinic_id, before=before, count=count)]


def encode_cursor(entry_id: str) -> str:
    return base64.urlsafe_b64encode(entry_id.encode("ascii")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The entry id a cursor stands for; ValidationError naming `cursor` if it is not one."""
    try:
        entry_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        entry_id = ""
    if not _STREAM_ID.fullmatch(entry_id):
        raise ValidationError("cursor", "not a cursor from this endpoint: use next_cursor as given")
    return entry_id


def _checked_detail(detail: Mapping[str, DetailValue]) -> dict[str, DetailValue]:
    checked: dict[str, DetailValue] = {}
    for name, value in detail.items():
        ok = value is None or isinstance(value, str | int | bool)
        ok = ok or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        if not ok:
            raise TypeError(f"audit detail {name!r}: names, ids and counts only")
        checked[str(name)] = value
    if len(repr(checked)) > DETAIL_MAX_CHARS:
        raise ValueError("audit detail too long: names, ids and counts only")
    return checked
