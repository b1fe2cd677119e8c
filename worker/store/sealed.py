"""The records that hold sealed PHI, found and re-sealed: enrollments (`x`) and replies (`b`).

Every write of a token is a compare-and-set (cas.lua) on the fields it was computed from, so a
change made meanwhile (a PATCH, an erasure, another rotation) is never overwritten: the caller
reads again and retries. Used by PATCH (`Store.update_enrollment`) and by `caredrip keys rotate`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from worker.store.codec import ERASABLE
from worker.store.keys import OPTOUT_SMS, enrollment_key, reply_key
from worker.store.ops import Call, ScriptCall, command, one

SEALED_BODY = "b"  # a reply's body, sealed (worker.inbox)
_ENROLLMENT = ("cd:{e:", "}")
_REPLY = ("cd:{r:", "}")


def enrollment_phi(eid: str) -> Call[dict[str, str]]:
    """The enrollment's token and plain details as stored ("" where absent)."""
    return one(command("hmget", enrollment_key(eid), list(ERASABLE)), lambda raw: _row(ERASABLE, raw))


def reply_body(rid: str) -> Call[dict[str, str]]:
    """The reply's sealed body as stored ("" where absent)."""
    return one(command("hmget", reply_key(rid), [SEALED_BODY]), lambda raw: _row((SEALED_BODY,), raw))


def _row(names: Sequence[str], raw: list[Any]) -> dict[str, str]:
    return {name: "" if value is None else str(value) for name, value in zip(names, raw, strict=True)}


def compare_and_set(
    key: str, read: Mapping[str, str], write: Mapping[str, str], delete: Sequence[str] = ()
) -> Call[int]:
    """Set `write` and delete `delete` while each field of `read` still holds what was read ("":
    absent). 1 written, 0 changed meanwhile, -1 no such hash (nothing written either way)."""
    args: list[Any] = [len(read), *(x for kv in read.items() for x in kv)]
    args += [len(write), *(x for kv in write.items() for x in kv), *delete]
    return one(ScriptCall("cas", [key], args), int)


def enrollment_cas(
    eid: str, read: Mapping[str, str], write: Mapping[str, str], delete: Sequence[str] = ()
) -> Call[int]:
    return compare_and_set(enrollment_key(eid), read, write, delete)


def reply_cas(rid: str, read: Mapping[str, str], token: str) -> Call[int]:
    return compare_and_set(reply_key(rid), read, {SEALED_BODY: token})


def scan_page(cursor: int, count: int) -> Call[tuple[int, list[str]]]:
    """One SCAN page of every key: (next cursor, 0 at the end; the keys)."""
    return one(command("scan", cursor, count=count), lambda raw: (int(raw[0]), [str(k) for k in raw[1]]))


def key_count() -> Call[int]:
    return one(command("dbsize"), int)


def enrollment_id(key: str) -> str | None:
    """The id in an enrollment hash's key (`cd:{e:<id>}`); None for any other key."""
    return _id_in(key, _ENROLLMENT)


def reply_id(key: str) -> str | None:
    """The id in a reply hash's key (`cd:{r:<id>}`); None for any other key."""
    return _id_in(key, _REPLY)


def _id_in(key: str, shape: tuple[str, str]) -> str | None:
    start, end = shape
    if key.startswith(start) and key.endswith(end) and "}" not in key[len(start) : -len(end)]:
        return key[len(start) : -len(end)]
    return None


def plain_optouts_page(cursor: int, count: int) -> Call[tuple[int, list[str]]]:
    """One HSCAN page of the SMS opt-outs still keyed by the plain number (stored before blind
    indexes): (next cursor, 0 at the end; those numbers)."""

    def parse(raw: Any) -> tuple[int, list[str]]:
        return int(raw[0]), [str(field) for field in raw[1] if str(field).startswith("+")]

    return one(command("hscan", OPTOUT_SMS, cursor, match="+*", count=count), parse)


def move_optout(number: str, bi: str) -> Call[int]:
    """Move a plain number's opt-out to its blind index (move_optout.lua): 1 moved, 0 gone."""
    return one(ScriptCall("move_optout", [OPTOUT_SMS], [number, bi]), int)
