"""What a patient costs in Redis beyond its own keys: the entry of its enrollment in its clinic's
index (`cd:enrollments:<clinic>`, the console's patient list) and the audit entry of its creation
(`cd:audit` and its clinic's index stream), each written through the store's own ops, exactly as
a create sends them (clinic_enrollments.add, audit.append), pipelined so a million take seconds.

`count` enrollments spread round-robin over `clinics` clinics, created `spacing_ms` apart on the
caredrip clock from `start`; INFO `used_memory` before and after each part, divided by the count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import redis

from worker.audit import Action, clinic_actor, new_entry
from worker.clock import FixedClock
from worker.records import Enrollment
from worker.store import audit as store_audit
from worker.store import clinic_enrollments
from worker.store.ops import Op
from worker.store.redis_store import Store
from worker.tokens import enrollment_id, key_id

CHUNK = 2000
RETENTION_DAYS = 400


def _used(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def _clinic(i: int, clinics: int) -> str:
    return f"c_{i % clinics:08x}"


def _fill(store: Store, count: int, ops_of: Callable[[int], tuple[Op, ...]]) -> float:
    before = _used(store.redis)
    ops: list[Op] = []
    for i in range(count):
        ops.extend(ops_of(i))
        if (i + 1) % CHUNK == 0:
            store._runner.run(ops)
            ops = []
    store._runner.run(ops)
    return (_used(store.redis) - before) / count


def clinic_index_bytes(
    store: Store, template: Enrollment, count: int, *, clinics: int, start: datetime, spacing_ms: int
) -> float:
    """Bytes per enrollment of the clinics' enrollment indexes."""
    ttl_s = RETENTION_DAYS * 86400

    def ops_of(i: int) -> tuple[Op, ...]:
        cid = _clinic(i, clinics)
        e = replace(
            template,
            id=enrollment_id(b"bench", cid, f"p-{i}", template.program),
            clinic_id=cid,
            created_at=start + timedelta(milliseconds=i * spacing_ms),
        )
        return tuple(clinic_enrollments.add(e, ttl_s))

    return _fill(store, count, ops_of)


def audit_entry_bytes(store: Store, count: int, *, clinics: int, start: datetime, spacing_ms: int) -> float:
    """Bytes per enrollment of the audit entries of their creation (trail and clinic indexes)."""
    clock = FixedClock(start)
    retention_ms = RETENTION_DAYS * 86400 * 1000

    def ops_of(i: int) -> tuple[Op, ...]:
        cid = _clinic(i, clinics)
        clock.set(start + timedelta(milliseconds=i * spacing_ms))
        actor = clinic_actor(cid, key_id(f"{i % clinics:064x}"))
        entry = new_entry(clock, actor, Action.ENROLL, enrollment_id=enrollment_id(b"bench", cid, f"p-{i}", "p"),
                          clinic_id=cid)  # fmt: skip
        return store_audit.append(entry, retention_ms).ops

    return _fill(store, count, ops_of)
