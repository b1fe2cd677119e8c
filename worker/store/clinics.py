"""Clinics and their API keys in Redis (kept apart from the hot path on purpose).

A clinic's hash holds its own fields and one `key:<key id>` field per API key,
`<sha256 of the key>|<created s>|<revoked s>`; a clinic added before key ids holds one `key` field
(the sha256 alone), read as a key whose id derives from that hash. `cd:clinickeys` maps the sha256
of each working key to its clinic: authenticating is one HGET, and revoking a key (or the clinic)
removes it there in the same transaction that marks it revoked. Writes that depend on what a
clinic's hash holds WATCH it, so a key added while the clinic is revoked is never left working.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import redis

from worker.store.keys import CLINIC_KEYS, CLINICS, clinic_key
from worker.tokens import key_id

T = TypeVar("T")
KEY_FIELD = "key:"  # + key id
LEGACY_KEY_FIELD = "key"
WEBHOOK_FIELDS = ("webhook_url", "webhook_secret")  # the secret sealed (aad: the clinic id)


@dataclass(frozen=True, slots=True)
class StoredKey:
    """One API key of a clinic as stored: its id, the sha256 of the key, when added and revoked (s)."""

    id: str
    key_hash: str
    created_s: int
    revoked_s: int | None = None


class KeyAdded(StrEnum):
    """ClinicStore.add_key: what adding a key did."""

    ADDED = "added"
    NO_CLINIC = "no_clinic"
    REVOKED = "revoked"  # the clinic is revoked: it gets no key


class ClinicStore:
    """Clinics and their API keys (stored hashed); separate from the hot path on purpose."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def add(self, cid: str, fields: dict[str, str], key: StoredKey) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(clinic_key(cid), mapping=dict[Any, Any]({**fields, KEY_FIELD + key.id: _pack(key)}))
        pipe.hset(CLINIC_KEYS, key.key_hash, cid)
        pipe.sadd(CLINICS, cid)
        pipe.execute()

    def get(self, cid: str) -> dict[str, str]:
        """The clinic's own fields (name, phone, email, created, revoked, webhook_url, webhook_secret
        sealed); {} when there is none."""
        return _fields(self._row(cid))

    def ids(self) -> list[str]:
        """Every clinic id, revoked ones included, sorted."""
        return sorted(str(c) for c in self.redis.smembers(CLINICS))

    def keys(self, cid: str) -> list[StoredKey]:
        """The clinic's API keys, revoked ones included, oldest first."""
        return self._keys(self._row(cid))

    def entry(self, cid: str) -> tuple[dict[str, str], list[StoredKey]]:
        """The clinic's own fields and its keys, in one read ({} and [] when there is none)."""
        row = self._row(cid)
        return _fields(row), self._keys(row)

    def by_key_hash(self, key_hash: str) -> str | None:
        cid = self.redis.hget(CLINIC_KEYS, key_hash)
        return str(cid) if cid else None

    def add_key(self, cid: str, key: StoredKey) -> KeyAdded:
        """Add a working key to an existing clinic that is not revoked."""

        def change(pipe: Any, row: dict[str, str]) -> KeyAdded:
            if not row:
                return KeyAdded.NO_CLINIC
            if row.get("revoked"):
                return KeyAdded.REVOKED
            pipe.multi()
            pipe.hset(clinic_key(cid), KEY_FIELD + key.id, _pack(key))
            pipe.hset(CLINIC_KEYS, key.key_hash, cid)
            pipe.execute()
            return KeyAdded.ADDED

        return self._watched(cid, change)

    def owner_of_key(self, key_id: str) -> str | None:
        """The clinic holding the key `key_id` (a scan of every clinic: an operator's command)."""
        for cid in self.ids():
            if any(k.id == key_id for k in self.keys(cid)):
                return cid
        return None

    def revoke_key(self, cid: str, key_id: str, now_s: int) -> StoredKey | None:
        """Revoke one of the clinic's keys at once; the key as it now stands (None: no such key).
        Revoking twice keeps the first time."""

        def change(pipe: Any, row: dict[str, str]) -> StoredKey | None:
            found = next((k for k in self._keys(row) if k.id == key_id), None)
            if found is None or found.revoked_s is not None:
                return found
            revoked = StoredKey(found.id, found.key_hash, found.created_s, now_s)
            pipe.multi()
            pipe.hdel(CLINIC_KEYS, found.key_hash)
            pipe.hdel(clinic_key(cid), LEGACY_KEY_FIELD)  # a legacy key is written back with its id
            pipe.hset(clinic_key(cid), KEY_FIELD + found.id, _pack(revoked))
            pipe.execute()
            return revoked

        return self._watched(cid, change)

    def revoke(self, cid: str, now_s: int) -> bool:
        """Revoke the clinic and every key it holds, at once; False when there is no such clinic."""

        def change(pipe: Any, row: dict[str, str]) -> bool:
            if not row:
                return False
            working = [k for k in self._keys(row) if k.revoked_s is None]
            pipe.multi()
            if working:
                pipe.hdel(CLINIC_KEYS, *(k.key_hash for k in working))
            pipe.hdel(clinic_key(cid), LEGACY_KEY_FIELD)
            for k in working:
                pipe.hset(clinic_key(cid), KEY_FIELD + k.id, _pack(StoredKey(k.id, k.key_hash, k.created_s, now_s)))
            if not row.get("revoked"):
                pipe.hset(clinic_key(cid), "revoked", str(now_s))
            pipe.execute()
            return True

        return self._watched(cid, change)

    def set_webhook(self, cid: str, url: str | None, sealed_secret: str | None) -> bool:
        """Register the clinic's webhook URL and its sealed signing secret (None: remove both);
        False when there is no such clinic."""

        def change(pipe: Any, row: dict[str, str]) -> bool:
            if not row:
                return False
            pipe.multi()
            if url is None or sealed_secret is None:
                pipe.hdel(clinic_key(cid), *WEBHOOK_FIELDS)
            else:
                pipe.hset(clinic_key(cid), mapping={WEBHOOK_FIELDS[0]: url, WEBHOOK_FIELDS[1]: sealed_secret})
            pipe.execute()
            return True

        return self._watched(cid, change)

    # -- plumbing -----------------------------------------------------------------------------
    def _row(self, cid: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.redis.hgetall(clinic_key(cid)).items()}

    def _keys(self, row: dict[str, str]) -> list[StoredKey]:
        found = [_unpack(name.removeprefix(KEY_FIELD), v) for name, v in row.items() if name.startswith(KEY_FIELD)]
        legacy = row.get(LEGACY_KEY_FIELD)
        if legacy:
            revoked = int(row["revoked"]) if row.get("revoked") else None
            found.append(StoredKey(key_id(legacy), legacy, int(row.get("created") or 0), revoked))
        return sorted(found, key=lambda k: (k.created_s, k.id))

    def _watched(self, cid: str, change: Callable[[Any, dict[str, str]], T]) -> T:
        """Run `change(pipe, the clinic's hash)` under WATCH of that hash, again if it moved."""
        with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(clinic_key(cid))  # type: ignore[no-untyped-call]
                    row = {str(k): str(v) for k, v in pipe.hgetall(clinic_key(cid)).items()}
                    return change(pipe, row)
                except redis.WatchError:
                    continue


def _fields(row: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in row.items() if k != LEGACY_KEY_FIELD and not k.startswith(KEY_FIELD)}


def _pack(key: StoredKey) -> str:
    return f"{key.key_hash}|{key.created_s}|{'' if key.revoked_s is None else key.revoked_s}"


def _unpack(key_id: str, value: str) -> StoredKey:
    key_hash, _, rest = value.partition("|")
    created, _, revoked = rest.partition("|")
    return StoredKey(key_id, key_hash, int(created or 0), int(revoked) if revoked else None)
