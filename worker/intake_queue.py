"""Enrollments sent as the Celery task `caredrip.enroll(clinic_id, body)`, and those it refused.

`accept()` is the task's whole rule: the clinic must exist and not be revoked, the body must be
valid (the same validation and idempotency as the API); a refusal is recorded for operators as a
failed intake (id, clinic, field, reason, time; never the body) and answered as
`{"error": {"field", "message"}}`, a value, not a traceback. `failed_intakes()` lists them
(`caredrip intake failed`); `caredrip status` counts them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from worker.audit import intake_actor
from worker.clinics import active_clinic
from worker.deps import EngineDeps
from worker.enrollment import enroll
from worker.errors import ValidationError
from worker.intake import parse_enrollment
from worker.logs import get_logger
from worker.records import epoch_s, from_epoch_s
from worker.store import ClinicStore

log = get_logger("caredrip.intake")
MAX_SHOWN_CLINIC_ID = 64


@dataclass(frozen=True, slots=True)
class FailedIntake:
    """An intake task refused: its task id, the clinic id it named (as shown), the field at fault
    and why, and when."""

    id: str
    clinic_id: str
    field: str
    reason: str
    at: datetime

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "clinic_id": self.clinic_id, "field": self.field, "reason": self.reason,
                "at": self.at.isoformat()}  # fmt: skip


def shown_clinic_id(value: object) -> str:
    """`value` when it can be a clinic id (short printable text), else "?": whatever a sender put
    in the clinic id's place is not repeated to operators or into task events."""
    fits = isinstance(value, str) and 0 < len(value) <= MAX_SHOWN_CLINIC_ID and value.isprintable()
    return value if fits and isinstance(value, str) else "?"


def accept(
    deps: EngineDeps, clinics: ClinicStore, clinic_id: object, body: object, *, intake_id: str
) -> dict[str, Any]:
    """Enroll `body` for `clinic_id`: `{"id", "created"}`, or `{"error": {"field", "message"}}`
    for an unknown or revoked clinic or an invalid body (then recorded as a failed intake)."""
    try:
        clinic = active_clinic(clinics, clinic_id, field="clinic_id")
        if not isinstance(body, dict):
            raise ValidationError("body", "must be a JSON object: the enrollment body")
        new = parse_enrollment(clinic.id, body, deps)
    except ValidationError as refused:
        failure = FailedIntake(intake_id, shown_clinic_id(clinic_id), refused.field, refused.message, deps.clock.now())
        deps.store.record_failed_intake(json.dumps(_packed(failure), ensure_ascii=False))
        log.warning("intake refused", intake_id=intake_id, clinic_id=failure.clinic_id, field=failure.field)
        return {"error": {"field": refused.field, "message": refused.message}}
    enrollment, created = enroll(deps, new, actor=intake_actor(clinic.id))
    log.info("enrollment", enrollment_id=enrollment.id, clinic_id=clinic.id, created=created, intake_id=intake_id)
    return {"id": enrollment.id, "created": created}


def failed_intakes(deps: EngineDeps, limit: int = 1000) -> list[FailedIntake]:
    """The latest refused intakes, newest first (the latest 1000 are kept)."""
    return [_unpacked(json.loads(entry)) for entry in deps.store.failed_intakes(limit)]


def _packed(failure: FailedIntake) -> dict[str, Any]:
    return {"id": failure.id, "clinic": failure.clinic_id, "field": failure.field, "reason": failure.reason,
            "at": epoch_s(failure.at)}  # fmt: skip


def _unpacked(entry: dict[str, Any]) -> FailedIntake:
    return FailedIntake(
        id=str(entry.get("id", "")),
        clinic_id=str(entry.get("clinic", "?")),
        field=str(entry.get("field", "")),
        reason=str(entry.get("reason", "")),
        at=from_epoch_s(int(entry.get("at", 0))),
    )
