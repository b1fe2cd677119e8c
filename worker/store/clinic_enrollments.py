"""A clinic's enrollments by creation time (`cd:enrollments:<clinic id>`), for the console's
patient list: enrollment ids only, never anything about the patient (the ref and name stay
sealed in each enrollment).

Written with each create (ZADD NX, same round trip; bulk intake's creates are the same calls),
kept a retention past the clinic's latest enrollment. An enrollment that expired or was erased
leaves its id behind until a reader finds it gone and drops it (`forget`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from worker.records import Enrollment, epoch_ms
from worker.store.keys import clinic_enrollments_key
from worker.store.ops import Call, Command, command, effect


def add(enrollment: Enrollment, ttl_s: int) -> tuple[Command, ...]:
    """The ops that list a new enrollment under its clinic (NX: a repeat keeps its first time)."""
    key = clinic_enrollments_key(enrollment.clinic_id)
    listed = command("zadd", key, {enrollment.id: epoch_ms(enrollment.created_at)}, nx=True)
    return (listed, command("expire", key, ttl_s)) if ttl_s > 0 else (listed,)


def page(clinic_id: str, offset: int, count: int) -> Call[tuple[list[str], int]]:
    """(`count` enrollment ids from `offset`, newest first; how many the clinic has listed)."""
    key = clinic_enrollments_key(clinic_id)
    ops = (command("zrevrange", key, offset, offset + count - 1), command("zcard", key))

    def parse(raw: list[Any]) -> tuple[list[str], int]:
        return [str(e) for e in raw[0]], int(raw[1])

    return Call(ops, parse)


def forget(clinic_id: str, eids: Sequence[str]) -> Call[None]:
    """Drop ids whose enrollment is no longer stored (expired or erased)."""
    return effect(command("zrem", clinic_enrollments_key(clinic_id), *eids)) if eids else effect()
