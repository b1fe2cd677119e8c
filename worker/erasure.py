"""Erasure: every trace of a patient's number removed, for operators (any clinic) or one clinic.

`forget_number` (`caredrip patient forget --phone E164`) finds each enrollment of the number through
its recipient record (`e:<enrollment id>` notes), cancels the ones still running (their waiting
messages end `skipped`), deletes their name, patient ref and contacts, the replies received from
the number (and their inbox entries), the number's record with its indexes, and the record of each
of those enrollments' email addresses. `erase_enrollment` (`DELETE /v1/enrollments/{id}?erase=true`)
does the same for one clinic's patient only: that clinic's enrollments of the number, its replies
from it and its notes on the record; another clinic's enrollment of the same number stays as it is.

Kept on purpose: the SMS opt-out (a STOP must still be honoured), the enrollments' hashes without
what identifies the patient (state and history, until their retention ends), the message records
(they hold no contact: state, times, provider id). Both are idempotent: a second run removes
nothing and says so. Both are audited (`erase`): one entry per enrollment erased, and one with
the counts (for one clinic's erasure, that is the named enrollment's entry).
"""

from __future__ import annotations

from dataclasses import dataclass

from worker import audit
from worker.audit import OPERATOR, Action
from worker.contact import clinic_phone, mask_phone
from worker.deps import EngineDeps
from worker.enrollment import ENDED, cancel, get_owned
from worker.errors import ValidationError
from worker.records import Enrollment
from worker.routing import blind_index


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure removed, by kind (counts; never the number: `masked` is its last 4 digits)."""

    masked: str
    enrollments: tuple[str, ...] = ()  # ids whose name, patient ref and contacts were deleted
    canceled: int = 0  # of those, the ones still running until now
    replies: int = 0  # replies received from the number
    records: int = 0  # recipient records (the number's; each email address's)
    notes: int = 0  # one clinic's notes taken off a record another clinic still has

    def counts(self) -> dict[str, int]:
        return {"enrollments": len(self.enrollments), "canceled": self.canceled, "replies": self.replies,
                "records": self.records, "notes": self.notes}  # fmt: skip

    @property
    def removed_anything(self) -> bool:
        return any(self.counts().values())


def forget_number(deps: EngineDeps, phone: str, *, actor: str = OPERATOR) -> Erasure:
    """Remove every trace of `phone` (E.164) from every clinic; ValidationError naming `phone`."""
    number = _checked_phone(phone)
    bi = blind_index(deps.index, number)
    assert bi is not None  # a checked E.164 number always has one
    noted = deps.store.number_record(bi).enrollments
    found = _enrollments_of(deps, noted, number)
    canceled = _cancel_running(deps, found, actor)
    erased = _erase_phi(deps, found)
    replies = deps.store.number_replies(bi)
    deps.store.erase_replies(replies)
    emails = _email_indexes(deps, found)
    records = deps.store.drop_number_records([bi, *emails])
    result = Erasure(mask_phone(number), erased, canceled, len(replies), records)
    _audit(deps, actor, result, found, clinic_id=None)
    return result


def erase_enrollment(deps: EngineDeps, eid: str, clinic_id: str, *, actor: str) -> Erasure:
    """Remove the traces of enrollment `eid`'s patient that clinic `clinic_id` holds: each of its
    enrollments of that number, its replies from the number, its notes on the number's record (the
    record itself once no other clinic has the number), and the patient's email records. NotFound
    for another clinic's enrollment. Erasing again removes nothing."""
    target = get_owned(deps, eid, clinic_id)
    found = [target]
    bi = blind_index(deps.index, target.phone) if target.phone else None
    if bi is not None and target.phone:
        noted = {e: c for e, c in deps.store.number_record(bi).enrollments.items() if c == clinic_id and e != eid}
        found += _enrollments_of(deps, noted, target.phone)
    canceled = _cancel_running(deps, found, actor)
    erased = _erase_phi(deps, found)
    replies, notes, records = [], 0, 0
    if bi is not None:
        replies = [r for r in deps.store.number_replies(bi) if r.clinic_id == clinic_id]
        deps.store.erase_replies(replies)
        notes, dropped = deps.store.forget_clinic_number(bi, clinic_id, [e.id for e in found])
        records += int(dropped)
    records += deps.store.drop_number_records(_email_indexes(deps, found))
    masked = mask_phone(target.phone) if target.phone else ""
    result = Erasure(masked, erased, canceled, len(replies), records, notes)
    _audit(deps, actor, result, found, clinic_id=clinic_id)
    return result


def _checked_phone(phone: str) -> str:
    try:
        return clinic_phone(phone)
    except ValueError as exc:
        raise ValidationError("phone", str(exc)) from None


def _enrollments_of(deps: EngineDeps, noted: dict[str, str], number: str) -> list[Enrollment]:
    """The noted enrollments that still have `number` (a note left by a PATCH to another number,
    or by an enrollment already erased or expired, names nobody's data)."""
    eids = sorted(noted)
    return [e for e in deps.store.get_enrollments(eids) if e is not None and e.phone == number]


def _cancel_running(deps: EngineDeps, found: list[Enrollment], actor: str) -> int:
    running = [e for e in found if e.state not in ENDED]
    for enrollment in running:
        cancel(deps, enrollment.id, actor=actor)
    return len(running)


def _erase_phi(deps: EngineDeps, found: list[Enrollment]) -> tuple[str, ...]:
    with_phi = [e.id for e in found if e.phone or e.email or e.first_name or e.patient_ref]
    deps.store.erase_enrollment_phi(with_phi)
    return tuple(with_phi)


def _email_indexes(deps: EngineDeps, found: list[Enrollment]) -> list[str]:
    indexes = {blind_index(deps.index, e.email) for e in found if e.email}
    return sorted(bi for bi in indexes if bi is not None)


def _audit(deps: EngineDeps, actor: str, result: Erasure, found: list[Enrollment], *, clinic_id: str | None) -> None:
    """One `erase` entry per enrollment erased (its clinic sees it) and one with the counts: for
    one clinic's erasure, the entry of the enrollment it named."""
    named = found[0].id if clinic_id else None
    for enrollment in found:
        if enrollment.id in result.enrollments and enrollment.id != named:
            audit.record(deps, actor, Action.ERASE, enrollment_id=enrollment.id, clinic_id=enrollment.clinic_id)
    detail: dict[str, audit.DetailValue] = {"scope": "clinic" if clinic_id else "all", **result.counts()}
    audit.record(deps, actor, Action.ERASE, enrollment_id=named, clinic_id=clinic_id, detail=detail)
