"""The audit trail in Redis: one stream for operators (`cd:audit`) and a copy per clinic.

An entry is appended once, by audit_append.lua, to both streams under one id on the caredrip
clock (`<epoch ms>-<n>`), so ids are time order and MINID trimming keeps exactly the retention
period; an entry of no clinic (an operator's global erasure, a key rotation) goes to `cd:audit`
only. Fields: a actor, o action, e enrollment id, c clinic id, d detail (JSON), and `at` only when
the id had to be later than the entry's own time. Every entry has the same five fields, so Redis
stores their names once per stream node. Nothing here checks what an entry holds (worker.audit
keeps PHI out).
"""

from __future__ import annotations

import json
from typing import Any

from worker.records import epoch_ms, from_epoch_ms
from worker.store.keys import AUDIT, audit_clinic_key
from worker.store.ops import Call, ScriptCall, command, one
from worker.store.results import AuditEntry


def append(entry: AuditEntry, retention_ms: int) -> Call[str]:
    """Append `entry` (its `id` is ignored) to the trail and its clinic's copy; the id it got."""
    at = epoch_ms(entry.at)
    keys = [AUDIT, audit_clinic_key(entry.clinic_id)] if entry.clinic_id else [AUDIT]
    fields = {
        "a": entry.actor,
        "o": entry.action,
        "e": entry.enrollment_id,
        "c": entry.clinic_id,
        "d": json.dumps(entry.detail, separators=(",", ":"), sort_keys=True) if entry.detail else "",
    }
    args: list[Any] = [at, at - retention_ms, retention_ms, *(x for kv in fields.items() for x in kv)]
    return one(ScriptCall("audit_append", keys, args), str)


def page(clinic_id: str | None, before: str | None, count: int) -> Call[list[AuditEntry]]:
    """Up to `count` entries, newest first, older than id `before`: the clinic's (None: everyone's)."""
    key = AUDIT if clinic_id is None else audit_clinic_key(clinic_id)
    top = f"({before}" if before else "+"
    return one(command("xrevrange", key, top, "-", count=count), _entries)


def _entries(raw: list[Any]) -> list[AuditEntry]:
    return [_entry(str(eid), fields) for eid, fields in raw]


def _entry(eid: str, f: dict[str, str]) -> AuditEntry:
    at_ms = int(f["at"]) if f.get("at") else int(eid.partition("-")[0])
    return AuditEntry(
        id=eid,
        at=from_epoch_ms(at_ms),
        actor=f.get("a", ""),
        action=f.get("o", ""),
        enrollment_id=f.get("e", ""),
        clinic_id=f.get("c", ""),
        detail=json.loads(f["d"]) if f.get("d") else {},
    )
