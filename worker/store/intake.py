"""Intake tasks refused: the operators' list (JSON entries, newest first, the latest 1000 kept)
and the count since the store began. Entries never hold an enrollment body."""

from __future__ import annotations

from worker.store.keys import INTAKE_FAILED, INTAKE_FAILED_KEEP, INTAKE_FAILED_TOTAL
from worker.store.ops import Call, command, effect, one


def record_failed(entry: str) -> Call[None]:
    """Keep one refused intake (JSON text) and count it."""
    return effect(
        command("lpush", INTAKE_FAILED, entry),
        command("ltrim", INTAKE_FAILED, 0, INTAKE_FAILED_KEEP - 1),
        command("incr", INTAKE_FAILED_TOTAL),
    )


def failed(limit: int) -> Call[list[str]]:
    return one(command("lrange", INTAKE_FAILED, 0, limit - 1), lambda values: [str(v) for v in values])


def failed_total() -> Call[int]:
    return one(command("get", INTAKE_FAILED_TOTAL), lambda n: int(n or 0))
