"""The records that hold sealed PHI, found and re-sealed: enrollments (`x`) and replies (`b`).

Every write of a token is a compare-and-set (cas.lua) on the fields it was computed from, so a
change made meanwhile (a PATCH, an erasure, another rotation) is never overwritten: the caller
reads again and retries. Used by PATCH (`Store.update_enrollment`) and by `caredrip keys rotate`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from worker.errors import Conflict
from worker.phi import IndexKey, Keyring
from worker.records import EnrollmentUpdate
from worker.store.clinics import WEBHOOK_FIELDS
from worker.store.codec import ERASABLE, PHI_FIELDS, SEALED, encode_update, open_phi, present_phi, seal_phi, update_phi
from worker.store.enrollments import update_unsealed
from worker.store.keys import OPTOUT_SMS, clinic_key, enrollment_key, reply_key
from worker.store.ops import Call, ScriptCall, command, one
from worker.store.results import Reseal

Caller = Callable[[Call[Any]], Any]  # the Store's one-round-trip runner
SEALED_BODY = "b"  # a reply's body, sealed (worker.inbox)
CAS_ATTEMPTS = 20  # writers racing on one record's details: each retry follows someone's success
_ENROLLMENT = ("cd:{e:", "}")
_REPLY = ("cd:{r:", "}")


def enrollment_phi(eid: str) -> Call[dict[str, str]]:
    """The enrollment's token and plain details as stored ("" where absent)."""
    return one(command("hmget", enrollment_key(eid), list(ERASABLE)), lambda raw: _row(ERASABLE, raw))


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


# -- the loops: read, seal, compare-and-set; again while another writer got there first ----------
def update_enrollment(call: Caller, keyring: Keyring, eid: str, change: EnrollmentUpdate) -> None:
    """Write `change`. When it changes the patient's details (or they are plain, or under an
    older key) the whole token is sealed anew and written by compare-and-set against the one
    read: two round trips, more under a race. Nothing is written for an enrollment that is gone."""
    for _ in range(CAS_ATTEMPTS):
        stored: dict[str, str] = call(enrollment_phi(eid))
        current = open_phi(keyring, eid, stored)
        wanted = present_phi({**current, **update_phi(change)})
        token = stored[SEALED]
        if token and wanted == current and not keyring.needs_rotation(token):
            call(update_unsealed(eid, change))
            return
        if _write_phi(call, keyring, eid, stored, wanted, encode_update(change)) != 0:
            return
    raise Conflict(f"enrollment {eid}: changed by others {CAS_ATTEMPTS} times while being updated; try again")


def reseal_enrollment(call: Caller, keyring: Keyring, eid: str) -> Reseal:
    """Seal the enrollment's details under the keyring's first key unless they already are (plain
    ones too), by compare-and-set: a concurrent PATCH or erasure is never undone. SealError if its
    token does not open (UnknownKeyError: its key left the keyring)."""
    for _ in range(CAS_ATTEMPTS):
        stored: dict[str, str] = call(enrollment_phi(eid))
        token = stored[SEALED]
        if token and not keyring.needs_rotation(token):
            return Reseal.CURRENT
        phi = open_phi(keyring, eid, stored)
        if not phi:
            return Reseal.EMPTY
        written = _write_phi(call, keyring, eid, stored, phi, {})
        if written != 0:
            return Reseal.EMPTY if written < 0 else Reseal.RESEALED if token else Reseal.SEALED
    raise Conflict(f"enrollment {eid}: changed by others {CAS_ATTEMPTS} times while being re-sealed")


WEBHOOK_SECRET = WEBHOOK_FIELDS[1]


def reseal_reply(call: Caller, keyring: Keyring, rid: str) -> Reseal:
    """Seal the reply's body under the keyring's first key unless it already is, by
    compare-and-set. SealError if it does not open."""
    return _reseal_field(call, keyring, reply_key(rid), SEALED_BODY, rid, f"reply {rid}")


def reseal_webhook_secret(call: Caller, keyring: Keyring, cid: str) -> Reseal:
    """Seal the clinic's webhook signing secret under the keyring's first key unless it already
    is, by compare-and-set. SealError if it does not open."""
    return _reseal_field(call, keyring, clinic_key(cid), WEBHOOK_SECRET, cid, f"clinic {cid}")


def _reseal_field(call: Caller, keyring: Keyring, key: str, name: str, aad: str, what: str) -> Reseal:
    for _ in range(CAS_ATTEMPTS):
        raw = call(one(command("hmget", key, [name]), lambda r: _row((name,), r)))
        token = raw[name]
        if not token:
            return Reseal.EMPTY
        if not keyring.needs_rotation(token):
            return Reseal.CURRENT
        value = keyring.open(token, aad=aad)
        written: int = call(compare_and_set(key, raw, {name: keyring.seal(value, aad=aad)}))
        if written != 0:
            return Reseal.EMPTY if written < 0 else Reseal.RESEALED
    raise Conflict(f"{what}: changed by others {CAS_ATTEMPTS} times while being re-sealed")


def move_plain_optouts(call: Caller, index: IndexKey, page: int) -> int:
    """Move every SMS opt-out keyed by a plain number to the number's blind index; how many."""
    moved, cursor = 0, 0
    while True:
        cursor, plain = call(plain_optouts_page(cursor, page))
        for number in plain:
            try:
                moved += call(move_optout(number, index.blind_index(number)))
            except ValueError:  # not a number after all: nobody's opt-out, left alone
                continue
        if cursor == 0:
            return moved


def _write_phi(
    call: Caller, keyring: Keyring, eid: str, stored: dict[str, str], phi: dict[str, str], fields: dict[str, str]
) -> int:
    """Seal `phi` as the token and write it with `fields`, dropping plain details, while the
    token and plain details are still `stored`: 1 written, 0 changed meanwhile, -1 gone."""
    token = seal_phi(keyring, eid, phi)
    write = {**fields, SEALED: token} if token else fields
    delete = [*PHI_FIELDS] if token else [*PHI_FIELDS, SEALED]
    result: int = call(enrollment_cas(eid, stored, write, delete))
    return result
