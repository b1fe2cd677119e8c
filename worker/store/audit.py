"""The audit trail in Redis: one stream of entries (`cd:audit`) and an index stream per clinic.

An entry is appended once, by audit_append.lua, to `cd:audit` under an id on the caredrip clock
(`<epoch ms>-<n>`), so ids are time order and MINID trimming keeps exactly the retention period;
its clinic's index gets the same id with the enrollment id alone (`e`), so a clinic's page, even
filtered by enrollment, reads only its own ids before fetching those entries (about 30 B an entry
instead of a second copy). An entry of no clinic (an operator's global erasure, a key rotation) has
no index entry. Fields: a actor, o action, e enrollment id, c clinic id, d detail (JSON, "" for
none), and `at` only when the id had to be later than the entry's own time. Every entry has the
same five fields, so Redis stores their names once per stream node. Nothing here checks what an
entry holds (worker.audit keeps PHI out).

Two values are stored shorter, and read back whole: an actor of the entry's own clinic
(`clinic:<c> key:<key id>`, `clinic:<c> via intake`) as `~` and the rest (`~key:<key id>`), since `c`
already names the clinic; an action of ACTIONS as its index there, which Redis keeps as a one-byte
integer. Entries written before either (the full actor, the action's name) read as they are.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from worker.records import epoch_ms, from_epoch_ms
from worker.store.keys import AUDIT, audit_clinic_key
from worker.store.ops import Call, ScriptCall, command, effect, one
from worker.store.results import AuditEntry

# The actions worker.audit records, by stored code (the index): append only, never reordered.
ACTIONS = ("enroll", "update", "pause", "resume", "cancel", "resend", "clinic_add", "clinic_revoke", "key_add",
           "key_revoke", "erase", "keys_rotate")  # fmt: skip
_ACTION_CODES = {name: str(code) for code, name in enumerate(ACTIONS)}
OWN_CLINIC = "~"  # a stored actor starting with it: `clinic:<the entry's clinic> ` and the rest


def append(entry: AuditEntry, retention_ms: int) -> Call[str]:
    """Append `entry` (its `id` is ignored) to the trail, and its id to its clinic's index; the id it got."""
    at = epoch_ms(entry.at)
    keys = [AUDIT, audit_clinic_key(entry.clinic_id)] if entry.clinic_id else [AUDIT]
    detail = json.dumps(entry.detail, separators=(",", ":"), sort_keys=True) if entry.detail else ""
    args: list[Any] = [at, at - retention_ms, retention_ms, entry.enrollment_id, _stored_actor(entry),
                       _ACTION_CODES.get(entry.action, entry.action), entry.clinic_id, detail]  # fmt: skip
    return one(ScriptCall("audit_append", keys, args), str)


def _stored_actor(entry: AuditEntry) -> str:
    own = f"clinic:{entry.clinic_id} "
    if entry.clinic_id and entry.actor.startswith(own):
        return OWN_CLINIC + entry.actor[len(own) :]
    return entry.actor


def _actor(stored: str, clinic_id: str) -> str:
    return f"clinic:{clinic_id} {stored[1:]}" if stored.startswith(OWN_CLINIC) else stored


def _action(stored: str) -> str:
    return ACTIONS[int(stored)] if stored.isdecimal() and int(stored) < len(ACTIONS) else stored


def withdraw(entry_id: str, clinic_id: str) -> Call[None]:
    """Take back an entry appended with a change that did not happen after all (a repeat)."""
    keys = [AUDIT, audit_clinic_key(clinic_id)] if clinic_id else [AUDIT]
    return effect(*(command("xdel", key, entry_id) for key in keys))


def page(before: str | None, count: int) -> Call[list[AuditEntry]]:
    """Up to `count` entries of the whole trail, newest first, older than id `before`."""
    top = f"({before}" if before else "+"
    return one(command("xrevrange", AUDIT, top, "-", count=count), _entries)


def clinic_index(clinic_id: str, before: str | None, count: int) -> Call[list[tuple[str, str]]]:
    """Up to `count` of the clinic's (entry id, enrollment id), newest first, older than `before`."""
    top = f"({before}" if before else "+"
    op = command("xrevrange", audit_clinic_key(clinic_id), top, "-", count=count)
    return one(op, lambda raw: [(str(i), str(f.get("e", ""))) for i, f in raw])


def by_ids(ids: Sequence[str]) -> Call[list[AuditEntry | None]]:
    """The entries with these ids (None where one was trimmed meanwhile)."""

    def parse(rows: list[Any]) -> list[AuditEntry | None]:
        return [_entry(str(row[0][0]), row[0][1]) if row else None for row in rows]

    return Call(tuple(command("xrange", AUDIT, i, i, count=1) for i in ids), parse)


def _entries(raw: list[Any]) -> list[AuditEntry]:
    return [_entry(str(eid), fields) for eid, fields in raw]


def _entry(eid: str, f: dict[str, str]) -> AuditEntry:
    at_ms = int(f["at"]) if f.get("at") else int(eid.partition("-")[0])
    return AuditEntry(
        id=eid,
        at=from_epoch_ms(at_ms),
        actor=_actor(f.get("a", ""), f.get("c", "")),
        action=_action(f.get("o", "")),
        enrollment_id=f.get("e", ""),
        clinic_id=f.get("c", ""),
        detail=json.loads(f["d"]) if f.get("d") else {},
    )
