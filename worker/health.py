"""Liveness: whether this process reaches the store (the API's /healthz asks)."""

from __future__ import annotations

from worker.deps import EngineDeps


def store_reachable(deps: EngineDeps) -> bool:
    """True when Redis answers PING; a failure to reach it raises (the caller decides how to say so)."""
    return deps.store.ping()
