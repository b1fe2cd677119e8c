"""What every process on one Redis shares: the rate limit per channel, short locks, the scaled
clock's origin and the webhooks already acted on; and what is read of the server itself (its hash
encoding limit) and of an older installation (its secret, moved out of Redis by worker.secret_file)."""

from __future__ import annotations

from typing import Any

from worker.store.keys import CLOCK_KEY, LEGACY_SECRET_KEY, lock_key, ratelimit_key, seen_key
from worker.store.ops import Call, ScriptCall, command, effect, one


def reserve(channel: str, count: int, interval_us: int, burst_us: int, max_wait_us: int | None = None) -> Call[int]:
    """Reserve `count` sends on the channel's shared limit (ratelimit.lua); microseconds to wait,
    or -1 (nothing reserved) when that would be more than `max_wait_us`."""
    args = [interval_us, count, burst_us] + ([] if max_wait_us is None else [max_wait_us])
    return one(ScriptCall("ratelimit", [ratelimit_key(channel)], args), int)


def take_lock(name: str, token: str, ttl_ms: int) -> Call[bool]:
    return one(command("set", lock_key(name), token, nx=True, px=ttl_ms), bool)


def lock_holder(name: str) -> Call[str | None]:
    return one(command("get", lock_key(name)), lambda token: None if token is None else str(token))


def drop_lock(name: str) -> Call[None]:
    return effect(command("delete", lock_key(name)))


def clock_origin(candidate: str, *, replace: bool) -> Call[str]:
    """The stored origin of the scaled clock, `candidate` stored first when there is none (or
    with `replace`, in any case)."""
    write = command("hset" if replace else "hsetnx", CLOCK_KEY, "origin", candidate)
    return Call((write, command("hget", CLOCK_KEY, "origin")), lambda raw: str(raw[1]))


def legacy_secret() -> Call[str | None]:
    """The secret an installation from before kept in Redis, if it is still there."""
    return one(command("get", LEGACY_SECRET_KEY), lambda raw: None if raw is None else str(raw))


def drop_legacy_secret() -> Call[None]:
    return effect(command("delete", LEGACY_SECRET_KEY))


HASH_VALUE_SETTINGS = ("hash-max-listpack-value", "hash-max-ziplist-value")  # Redis 7 name, then its alias


def hash_value_limit() -> Call[int | None]:
    """The largest hash value the server keeps in the compact encoding (CONFIG GET)."""
    return one(command("config_get", "hash-max-*-value"), _hash_value_limit)


def _hash_value_limit(raw: Any) -> int | None:
    found = raw if isinstance(raw, dict) else {}
    value = next((found[name] for name in HASH_VALUE_SETTINGS if name in found), None)
    return None if value is None else int(value)


def first_sighting(kind: str, ident: str, ttl_s: int) -> Call[bool]:
    """True the first time (`kind`, `ident`) is seen within `ttl_s` seconds (SET NX EX)."""
    return one(command("set", seen_key(kind, ident), "1", nx=True, ex=ttl_s), bool)


def forget_sighting(kind: str, ident: str) -> Call[None]:
    return effect(command("delete", seen_key(kind, ident)))
