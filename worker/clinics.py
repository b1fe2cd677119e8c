"""Clinics and their API keys: add, list, revoke, authenticate; add and revoke single keys.

A key is shown once, when it is made (with its clinic, or by `add_key`); only its SHA-256 is
stored, so a copy of Redis does not give anyone a working key. A clinic may hold several keys, so
a leaked one is replaced without stopping the clinic's enrollments: add a new key, then revoke
the old one by its id (`k_…`, derived from the hash; never the key itself). A revoked key, or
every key of a revoked clinic, stops working at once; a revoked clinic gets no new key.
Given `audit` (worker.audit: the engine deps), each change is appended to the audit trail as
done by `actor`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from worker import audit as trail
from worker.audit import OPERATOR, Action, AuditDeps
from worker.contact import clinic_phone, email_address
from worker.errors import Conflict, NotFound, ValidationError
from worker.intake import clean_text
from worker.records import epoch_s, from_epoch_s
from worker.store import ClinicStore
from worker.store.clinics import KeyAdded, StoredKey
from worker.tokens import hash_key, key_id, new_clinic_key
from worker.webhooks import new_secret
from worker.webhooks.urls import check_url

if TYPE_CHECKING:
    from worker.phi import Keyring

MAX_KEY_LENGTH = 256
MAX_CLINIC_ID = 64


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """One API key as operators see it: its id and times (never the key or its hash)."""

    id: str
    clinic_id: str
    created_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class ClinicInfo:
    """A clinic as operators see it (never its keys or their hashes: only the keys' ids)."""

    id: str
    name: str
    phone: str
    email: str
    created_at: datetime | None
    revoked_at: datetime | None
    keys: tuple[KeyInfo, ...] = ()
    webhook_url: str = ""  # "" when none is registered

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def add_clinic(
    clinic_store: ClinicStore,
    name: str,
    phone: str | None,
    email: str | None,
    now: datetime,
    *,
    audit: AuditDeps | None = None,
    actor: str = OPERATOR,
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
    key, stored = _new_key(now)
    clinic_store.add(cid, fields, stored)
    if audit is not None:
        trail.record(audit, actor, Action.CLINIC_ADD, clinic_id=cid, detail={"key_id": stored.id})
    return cid, key


def list_clinics(clinic_store: ClinicStore) -> list[ClinicInfo]:
    """Every clinic, revoked ones included, by id, with its keys' ids."""
    return [get_clinic(clinic_store, cid) for cid in clinic_store.ids()]


def get_clinic(clinic_store: ClinicStore, clinic_id: str) -> ClinicInfo:
    row, keys = clinic_store.entry(clinic_id)
    if not row:
        raise NotFound(f"no clinic {clinic_id}")
    return _info(clinic_id, row, keys)


def active_clinic(clinic_store: ClinicStore, clinic_id: object, *, field: str = "clinic") -> ClinicInfo:
    """The clinic `clinic_id` names, if it exists and is not revoked; raises ValidationError naming
    `field` otherwise (the intake task and `caredrip enroll` accept no other)."""
    if not isinstance(clinic_id, str) or not clinic_id or len(clinic_id) > MAX_CLINIC_ID or not clinic_id.isprintable():
        raise ValidationError(field, "not a clinic id (see `caredrip clinic list`)")
    try:
        info = get_clinic(clinic_store, clinic_id)
    except NotFound:
        raise ValidationError(field, f"no clinic {clinic_id!r}") from None
    if not info.active:
        raise ValidationError(field, f"clinic {clinic_id} is revoked")
    return info


def revoke_clinic(
    clinic_store: ClinicStore, clinic_id: str, now: datetime, *, audit: AuditDeps | None = None, actor: str = OPERATOR
) -> bool:
    """Revoke the clinic and every key it holds; False when there is no such clinic. Revoking twice
    is harmless. Its enrollments keep running."""
    row = clinic_store.get(clinic_id) if audit is not None else {}
    revoked = clinic_store.revoke(clinic_id, epoch_s(now))
    if revoked and audit is not None and not row.get("revoked"):
        trail.record(audit, actor, Action.CLINIC_REVOKE, clinic_id=clinic_id)
    return revoked


def add_key(
    clinic_store: ClinicStore, clinic_id: str, now: datetime, *, audit: AuditDeps | None = None, actor: str = OPERATOR
) -> tuple[KeyInfo, str]:
    """A new working key for the clinic, beside its others; (the key's info, the key), the key
    returned once. Raises NotFound for no such clinic, Conflict for a revoked one."""
    key, stored = _new_key(now)
    added = clinic_store.add_key(clinic_id, stored)
    if added is KeyAdded.NO_CLINIC:
        raise NotFound(f"no clinic {clinic_id}")
    if added is KeyAdded.REVOKED:
        raise Conflict(f"clinic {clinic_id} is revoked: it gets no new key")
    if audit is not None:
        trail.record(audit, actor, Action.KEY_ADD, clinic_id=clinic_id, detail={"key_id": stored.id})
    return _key_info(clinic_id, stored), key


def revoke_key(
    clinic_store: ClinicStore, key_id: str, now: datetime, *, audit: AuditDeps | None = None, actor: str = OPERATOR
) -> KeyInfo:
    """Revoke one key at once (the clinic's other keys keep working); raises NotFound for an
    unknown key id. Revoking twice keeps the first time."""
    owner = clinic_store.owner_of_key(key_id) if key_id.startswith("k_") else None
    was = {k.id: k for k in list_keys(clinic_store, owner)}.get(key_id) if owner and audit is not None else None
    revoked = clinic_store.revoke_key(owner, key_id, epoch_s(now)) if owner else None
    if owner is None or revoked is None:
        raise NotFound(f"no key {key_id}")
    if audit is not None and (was is None or was.active):
        trail.record(audit, actor, Action.KEY_REVOKE, clinic_id=owner, detail={"key_id": key_id})
    return _key_info(owner, revoked)


def list_keys(clinic_store: ClinicStore, clinic_id: str) -> list[KeyInfo]:
    """The clinic's keys, revoked ones included, oldest first; NotFound for no such clinic."""
    return list(get_clinic(clinic_store, clinic_id).keys)


def register_webhook(
    clinic_store: ClinicStore, keyring: Keyring, clinic_id: str, url: object, *, production: bool
) -> tuple[str, str]:
    """Register the clinic's webhook URL with a new signing secret, every time (a leaked secret
    is replaced by registering again); (url, secret), the secret returned once and stored sealed
    (aad: the clinic id). Raises ValidationError naming `url`, NotFound for no such clinic."""
    checked = check_url(url, production=production)
    secret = new_secret()
    if not clinic_store.set_webhook(clinic_id, checked, keyring.seal(secret, aad=clinic_id)):
        raise NotFound(f"no clinic {clinic_id}")
    return checked, secret


def remove_webhook(clinic_store: ClinicStore, clinic_id: str) -> None:
    """No more events for the clinic's webhook (deliveries waiting are dropped); NotFound for no such clinic."""
    if not clinic_store.set_webhook(clinic_id, None, None):
        raise NotFound(f"no clinic {clinic_id}")


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


def _new_key(now: datetime) -> tuple[str, StoredKey]:
    key = new_clinic_key()
    key_hash = hash_key(key)
    return key, StoredKey(key_id(key_hash), key_hash, epoch_s(now))


def _key_info(cid: str, key: StoredKey) -> KeyInfo:
    return KeyInfo(
        id=key.id,
        clinic_id=cid,
        created_at=from_epoch_s(key.created_s) if key.created_s else None,
        revoked_at=None if key.revoked_s is None else from_epoch_s(key.revoked_s),
    )


def _info(cid: str, row: dict[str, str], keys: list[StoredKey]) -> ClinicInfo:
    return ClinicInfo(
        id=cid,
        name=row.get("name", ""),
        phone=row.get("phone", ""),
        email=row.get("email", ""),
        created_at=from_epoch_s(int(row["created"])) if row.get("created") else None,
        revoked_at=from_epoch_s(int(row["revoked"])) if row.get("revoked") else None,
        keys=tuple(_key_info(cid, k) for k in keys),
        webhook_url=row.get("webhook_url", ""),
    )
