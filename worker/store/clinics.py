"""Clinics and their API keys in Redis (kept apart from the hot path on purpose)."""

from __future__ import annotations

from typing import Any

import redis

from worker.store.keys import CLINIC_KEYS, CLINICS, clinic_key


class ClinicStore:
    """Clinics and their API keys (stored hashed); separate from the hot path on purpose."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def add(self, cid: str, fields: dict[str, str], key_hash: str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(clinic_key(cid), mapping=dict[Any, Any]({**fields, "key": key_hash}))
        pipe.hset(CLINIC_KEYS, key_hash, cid)
        pipe.sadd(CLINICS, cid)
        pipe.execute()

    def get(self, cid: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.redis.hgetall(clinic_key(cid)).items()}

    def all(self) -> list[dict[str, str]]:
        ids = sorted(str(c) for c in self.redis.smembers(CLINICS))
        return [{"id": cid, **self.get(cid)} for cid in ids]

    def by_key_hash(self, key_hash: str) -> str | None:
        cid = self.redis.hget(CLINIC_KEYS, key_hash)
        return str(cid) if cid else None

    def revoke(self, cid: str, now_s: int) -> bool:
        key_hash = self.redis.hget(clinic_key(cid), "key")
        if key_hash is None:
            return False
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(CLINIC_KEYS, key_hash)
        pipe.hset(clinic_key(cid), "revoked", str(now_s))
        pipe.execute()
        return True
