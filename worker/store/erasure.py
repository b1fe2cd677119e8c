"""Erasure in Redis: what identifies a patient leaves the enrollment hashes and recipient records.

The enrollment hash keeps what is not about the person (clinic, program, state, cursors, times),
so its history stays readable until its retention ends, with an empty name and no contacts.
A recipient record goes whole for an operator's erasure; one clinic's erasure takes only that
clinic's notes from it (forget_clinic_number.lua), and the record only once no other clinic has
the number. Replies go through worker.store.replies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from worker.store.codec import ERASABLE
from worker.store.keys import enrollment_key, number_key, number_replies_key, number_sends_key
from worker.store.numbers import ENROLLMENT_PREFIX
from worker.store.ops import Call, ScriptCall, command, one


def erase_phi(eids: Sequence[str]) -> Call[int]:
    """Delete the fields that identify a patient from each enrollment; how many had any."""
    ops = tuple(command("hdel", enrollment_key(eid), *ERASABLE) for eid in eids)
    return Call(ops, lambda raw: sum(1 for n in raw if int(n)))


def drop_records(bis: Sequence[str]) -> Call[int]:
    """Remove recipient records (with their sends and reply index) by blind index; how many
    records there were."""
    ops = tuple(
        op
        for bi in bis
        for op in (command("delete", number_key(bi), number_sends_key(bi)), command("delete", number_replies_key(bi)))
    )
    return Call(ops, lambda raw: sum(min(int(n), 1) for n in raw[::2]))


def forget_clinic(bi: str, clinic_id: str, eids: Sequence[str]) -> Call[tuple[int, bool]]:
    """Take `clinic_id`'s enrollments `eids` (and its latest message) off the number's record, and
    the record itself once no other clinic has the number: (notes removed, record removed)."""
    args = [clinic_id, *(ENROLLMENT_PREFIX + eid for eid in eids)]

    def parse(raw: Any) -> tuple[int, bool]:
        return int(raw[0]), bool(int(raw[1]))

    return one(ScriptCall("forget_clinic_number", [number_key(bi), number_sends_key(bi)], args), parse)
