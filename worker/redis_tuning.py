"""What caredrip asks of the Redis it is given (REDIS_URL), checked once a process at start: a
warning in the JSON log, never a refusal.

Sealed patient fields are longer than their plain text (AES-GCM's nonce and tag, base64): with
Redis's default `hash-max-listpack-value` of 64 (`hash-max-ziplist-value` before Redis 7), one such
value turns an enrollment's hash from the compact encoding into a full hash table, several times
the memory. The embedded server and the compose stack start Redis with 256. A server that refuses
CONFIG GET (managed Redis often does) or cannot be reached is not warned about.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

import redis

from worker.errors import CaredripError
from worker.redis_process import HASH_MAX_VALUE

_lock = threading.Lock()
_checked = False


class HashLimitSource(Protocol):
    def hash_value_limit(self) -> int | None: ...


def hash_limit_warning(limit: int | None) -> dict[str, Any] | None:
    """The warning's fields when `limit` (the server's setting, None: unknown) is below what caredrip needs."""
    if limit is None or limit >= HASH_MAX_VALUE:
        return None
    return {
        "setting": "hash-max-listpack-value",
        "value": limit,
        "wanted": HASH_MAX_VALUE,
        "fix": f"start Redis with --hash-max-listpack-value {HASH_MAX_VALUE} (Redis 6: --hash-max-ziplist-value)",
    }


def warn_once(store: HashLimitSource, log: Any) -> bool:
    """Log `redis_hash_limit_low` if the server's limit is too low, the first time this process asks;
    whether it did."""
    global _checked
    with _lock:
        if _checked:
            return False
        _checked = True
    try:
        warning = hash_limit_warning(store.hash_value_limit())
    except redis.RedisError:
        return False
    if warning is None:
        return False
    log.warning("redis_hash_limit_low", **warning)
    return True


def check_at_start(log: Any, store: HashLimitSource | None = None) -> bool:
    """`warn_once` on `store`, or (None) on the server REDIS_URL names, if one is configured (the
    embedded server is started with the right limit)."""
    if store is None:
        from worker import wiring

        try:
            if not wiring.settings().redis_url:
                return False
            store = wiring.store()
        except CaredripError:
            return False  # a bad setting: the process says so itself, one line, where it reads them
        except redis.RedisError:
            return False  # not up yet (`caredrip run` starts its Redis while the API imports): not warned
    return warn_once(store, log)


def reset() -> None:
    """Forget that this process checked (tests)."""
    global _checked
    with _lock:
        _checked = False
