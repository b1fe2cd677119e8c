"""Helpers behind the Redis fixtures, and bounded waits for what real workers and servers do."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

import redis

from worker.redis_server import RedisServer

T = TypeVar("T")


def flushed_url(server: RedisServer) -> str:
    """The server's URL after FLUSHALL, for a test that starts from an empty Redis."""
    client = redis.Redis.from_url(server.url)
    try:
        client.flushall()
    finally:
        client.close()
    return server.url


def wait_until(probe: Callable[[], T | None], *, timeout: float = 10.0, interval: float = 0.02) -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout` seconds.

    For waiting on another process (a worker, a server), never for time itself to pass.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s: {probe!r}")
        time.sleep(interval)


def wait_for_items(client: redis.Redis, key: str, count: int, timeout: float = 10.0) -> list[str]:
    """The list at `key` as text (whether the client decodes or not), once it holds `count` items."""

    def probe() -> list[str] | None:
        items = [item if isinstance(item, str) else item.decode() for item in client.lrange(key, 0, -1)]
        return items if len(items) >= count else None

    return wait_until(probe, timeout=timeout)


def process_gone(pid: int) -> bool:
    """Whether `pid` has exited (a zombie waiting for a parent to reap it counts as exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = open(f"/proc/{pid}/stat").read()  # noqa: SIM115 - one short read
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"
