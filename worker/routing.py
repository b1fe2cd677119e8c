"""Who hears a patient's SMS reply (HELP and free text) when several clinics enrolled the number.

The rule, in order:
1. the clinic whose message the number received most recently (the latest SMS handed to the
   provider for it, noted by the send path in the same round trip that records the outcome);
2. if the number has received nothing yet, the clinic that enrolled it, when exactly one did
   (its newest enrollment of the number that is not canceled);
3. otherwise, or for a number no clinic enrolled: nobody (None), and the reply goes to the
   operators' inbox.
Never to whoever enrolled it last: a repeated or new enrollment by another clinic does not take
the number over. Everything is looked up by the number's blind index (worker.phi), never the
number itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from worker.deps import EngineDeps
from worker.phi import IndexKey
from worker.records import EnrollmentState


@dataclass(frozen=True, slots=True)
class Route:
    """Where a reply from a number goes: the clinic, and the enrollment it is about."""

    clinic_id: str
    enrollment_id: str


def blind_index(index: IndexKey, value: str) -> str | None:
    """The blind index of an E.164 number or an email address; None for anything else (a
    malformed `From` is nobody's number)."""
    try:
        return index.blind_index(value)
    except ValueError:
        return None


def route(deps: EngineDeps, number: str) -> Route | None:
    """The clinic (and enrollment) a reply from `number` goes to; None: the operators' inbox."""
    bi = blind_index(deps.index, number)
    if bi is None:
        return None
    record = deps.store.number_record(bi)
    if record.last is not None:
        return Route(record.last.clinic_id, record.last.enrollment_id)
    return _only_enrolling_clinic(deps, number, record.enrollments)


def _only_enrolling_clinic(deps: EngineDeps, number: str, noted: Mapping[str, str]) -> Route | None:
    """The one clinic with a live enrollment of `number` among those noted, if exactly one.

    Each note is checked against its enrollment: one that expired, was canceled or was PATCHed
    to another number does not count."""
    eids = sorted(noted)
    live = [
        e
        for e in deps.store.get_enrollments(eids)
        if e is not None
        and e.phone == number
        and e.clinic_id == noted[e.id]
        and e.state is not EnrollmentState.CANCELED
    ]
    if len({e.clinic_id for e in live}) != 1:
        return None
    newest = max(live, key=lambda e: (e.created_at, e.id))
    return Route(newest.clinic_id, newest.id)
