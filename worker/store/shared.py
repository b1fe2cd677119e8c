"""What every process on one Redis shares: the rate limit per channel, short locks, the scaled
clock's origin, the secret for derived ids and tokens, and the webhooks already acted on."""

from __future__ import annotations

from worker.store.keys import CLOCK_KEY, SECRET_KEY, lock_key, ratelimit_key, seen_key
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


def shared_secret(candidate: str) -> Call[str]:
    """The stored secret, `candidate` stored first when there is none (SET NX)."""
    return Call((command("set", SECRET_KEY, candidate, nx=True), command("get", SECRET_KEY)), lambda raw: str(raw[1]))


def first_sighting(kind: str, ident: str, ttl_s: int) -> Call[bool]:
    """True the first time (`kind`, `ident`) is seen within `ttl_s` seconds (SET NX EX)."""
    return one(command("set", seen_key(kind, ident), "1", nx=True, ex=ttl_s), bool)


def forget_sighting(kind: str, ident: str) -> Call[None]:
    return effect(command("delete", seen_key(kind, ident)))
