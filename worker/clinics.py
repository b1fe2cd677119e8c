"""Clinics and their API keys: add, list, revoke, authenticate.

A clinic's key is shown once, when the clinic is added; only its SHA-256 is stored, so a copy of
Redis does not give anyone a working key. A revoked clinic's key stops working at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from worker.contact import clinic_phone, email_address
from worker.errors import NotFound, ValidationError
from worker.intake import clean_text
from worker.records import epoch_s, from_epoch_s
from worker.store import ClinicStore
from worker.tokens import hash_key, new_clinic_key

MAX_KEY_LENGTH = 256


@dataclass(frozen=True, slots=True)
class ClinicInfo:
    """A clinic as operators see it (never its key or the key's hash)."""

    id: str
    name: str
    phone: str
    email: str
    created_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def add_clinic(
    clinic_store: ClinicStore, name: str, phone: str | None, email: str | None, now: datetime
) -> tuple[str, str]:
    """Create a clinic; (clinic id, API key). The key is returned once and stored only hashed.

    Raises ValidationError naming `name`, `phone` or `email` when one is malformed. The clinic's
    phone is one patients call: strict E.164 of a possible length (`worker.contact.clinic_phone`),
    so a landline or the fictional +1 555-01xx range used in docs passes.
    """
    fields = {
        "name": _checked("name", lambda: clean_text(name, what="name", max_length=100)),
        "phone": _checked("phone", lambda: clinic_phone(phone)) if phone else "",
        "email": _checked("email", lambda: email_address(email)) if email else "",
        "created": str(epoch_s(now)),
    }
    cid = _new_id(clinic_store)
    key = new_clinic_key()
    clinic_store.add(cid, fields, hash_key(key))
    return cid, key


def list_clinics(clinic_store: ClinicStore) -> list[ClinicInfo]:
    """Every clinic, revoked ones included, by id."""
    return [_info(row["id"], row) for row in clinic_store.all()]


def get_clinic(clinic_store: ClinicStore, clinic_id: str) -> ClinicInfo:
    row = clinic_store.get(clinic_id)
    if not row:
        raise NotFound(f"no clinic {clinic_id}")
    return _info(clinic_id, row)


def revoke_clinic(clinic_store: ClinicStore, clinic_id: str, now: datetime) -> bool:
    """Revoke the clinic's key; False when there is no such clinic. Revoking twice is harmless."""
    return clinic_store.revoke(clinic_id, epoch_s(now))


def authenticate(clinic_store: ClinicStore, key: str) -> str | None:
    """The clinic id `key` belongs to, or None (unknown, malformed or revoked key)."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    # Revoking deletes the key's hash from the index in the same transaction that marks the
    # clinic revoked (ClinicStore.revoke), so one lookup answers both questions.
    return clinic_store.by_key_hash(hash_key(key))


def _checked(field: str, check: Callable[[], str]) -> str:
    try:
        return check()
    except ValueError as exc:
        raise ValidationError(field, str(exc)) from None


def _new_id(clinic_store: ClinicStore) -> str:
    while True:
        cid = "c_" + secrets.token_hex(4)
        if not clinic_store.get(cid):
            return cid


def _info(cid: str, row: dict[str, str]) -> ClinicInfo:
    return ClinicInfo(
        id=cid,
        name=row.get("name", ""),
        phone=row.get("phone", ""),
        email=row.get("email", ""),
        created_at=from_epoch_s(int(row["created"])) if row.get("created") else None,
        revoked_at=from_epoch_s(int(row["revoked"])) if row.get("revoked") else None,
    )
