"""Many enrollments at once (bulk intake): their creates in one round trip, and what is stored
under their ids read without writing anything (a dry run).

Each create is exactly `enrollments.create`, the one a single enrollment sends (enroll.lua, the
due entries NX, the number's note): only the round trips are shared.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import worker.store.enrollments as enrollments
from worker.phi import Keyring
from worker.records import Enrollment, EnrollmentState
from worker.store.keys import enrollment_key, generation_key
from worker.store.ops import Call, command
from worker.store.results import Created


def create_many(
    keyring: Keyring, items: Sequence[tuple[Enrollment, str | None]], ttl_s: int
) -> Call[list[tuple[Created, bool, int | None]]]:
    """`enrollments.create` of each (enrollment, blind index of its phone), in order."""
    calls = [enrollments.create(keyring, enrollment, bi, ttl_s) for enrollment, bi in items]

    def parse(raw: list[Any]) -> list[tuple[Created, bool, int | None]]:
        answers, start = [], 0
        for call in calls:
            answers.append(call.parse(raw[start : start + len(call.ops)]))
            start += len(call.ops)
        return answers

    return Call(tuple(op for call in calls for op in call.ops), parse)


def heads(eids: Sequence[str]) -> Call[list[tuple[EnrollmentState | None, int | None]]]:
    """Each enrollment's state (None: not stored) and the later generation its pointer names
    (None: none; only generation 0 ids have one)."""
    ops = tuple(
        op for e in eids for op in (command("hget", enrollment_key(e), "st"), command("get", generation_key(e)))
    )

    def parse(raw: list[Any]) -> list[tuple[EnrollmentState | None, int | None]]:
        pairs = zip(raw[0::2], raw[1::2], strict=True)
        return [(EnrollmentState(st) if st else None, int(gen) if gen else None) for st, gen in pairs]

    return Call(ops, parse)
