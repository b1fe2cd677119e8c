"""The console's own keys: operators (tokens stored hashed) and sign-in sessions (Redis TTL).

Kept apart from the hot path, like clinics (`worker.store.clinics`). An operator's hash holds its
name, created and revoked times and the sha256 of its token; `cd:operatorkeys` maps the sha256 of
each working token to its operator, so signing in is one HGET. A session lives under the sha256
of its cookie value (a copy of Redis gives no working cookie) and expires by itself.
"""

from __future__ import annotations

from typing import Any

import redis

from worker.store.keys import OPERATOR_KEYS, OPERATORS, generation_key, operator_key, session_key


class ConsoleStore:
    """Operators and console sessions; one redis-py client (decode_responses=True)."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    # -- operators ----------------------------------------------------------------------------
    def add_operator(self, oid: str, fields: dict[str, str], token_hash: str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(operator_key(oid), mapping=dict[Any, Any]({**fields, "token": token_hash}))
        pipe.hset(OPERATOR_KEYS, token_hash, oid)
        pipe.sadd(OPERATORS, oid)
        pipe.execute()

    def operator(self, oid: str) -> dict[str, str]:
        """The operator's fields (name, created, revoked; never the token's hash); {} if none."""
        row = {str(k): str(v) for k, v in self.redis.hgetall(operator_key(oid)).items()}
        row.pop("token", None)
        return row

    def operator_exists(self, oid: str) -> bool:
        return bool(self.redis.exists(operator_key(oid)))

    def operator_ids(self) -> list[str]:
        return sorted(str(o) for o in self.redis.smembers(OPERATORS))

    def operator_by_token_hash(self, token_hash: str) -> str | None:
        oid = self.redis.hget(OPERATOR_KEYS, token_hash)
        return str(oid) if oid else None

    # -- finding a patient (read only) -----------------------------------------------------------
    def latest_generation(self, first_eids: list[str]) -> list[int]:
        """For each generation-0 enrollment id, the latest generation its pointer names (0: none),
        in one round trip: a clinic's search by patient_ref walks back from there."""
        if not first_eids:
            return []
        pipe = self.redis.pipeline(transaction=False)  # one GET a hash tag: ready for Redis Cluster
        for eid in first_eids:
            pipe.get(generation_key(eid))
        values = pipe.execute()
        return [int(v) if v and str(v).isdigit() else 0 for v in values]

    # -- sessions -----------------------------------------------------------------------------
    def create_session(self, sid_hash: str, fields: dict[str, str], ttl_s: int) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(session_key(sid_hash), mapping=dict[Any, Any](fields))
        pipe.expire(session_key(sid_hash), ttl_s)
        pipe.execute()

    def session(self, sid_hash: str) -> dict[str, str]:
        """The session's fields; {} when it expired, was dropped or never existed."""
        return {str(k): str(v) for k, v in self.redis.hgetall(session_key(sid_hash)).items()}

    def drop_session(self, sid_hash: str) -> None:
        self.redis.delete(session_key(sid_hash))
