"""Shared fixtures: one private real Redis per session (flushed for each test), fresh ones on demand.

Never the machine's Redis on 6379: every server here is started by the suite on a free port, in
its own process group, and killed at the end even if a test forgets.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.redis_fixture import flushed_url
from worker import processes
from worker.redis_process import RedisServer
from worker.redis_server import stop_embedded

# The suite's own var/: anything that falls back to the embedded Redis (the Celery app binds its
# broker when first configured) starts it here, not in the checkout, and it is stopped at the end.
_var_dir = Path(tempfile.mkdtemp(prefix="caredrip-test-var-"))
os.environ.setdefault("CAREDRIP_VAR_DIR", str(_var_dir))
atexit.register(shutil.rmtree, _var_dir, True)

if "HYPOTHESIS_STORAGE_DIRECTORY" not in os.environ:  # else .hypothesis/ lands in the tree
    _hypothesis_dir = tempfile.mkdtemp(prefix="caredrip-hypothesis-")
    os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = _hypothesis_dir
    atexit.register(shutil.rmtree, _hypothesis_dir, True)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A private Redis on a free TCP port for the whole session."""
    server = RedisServer.on_free_port(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session server's URL, emptied for this test."""
    return flushed_url(redis_server)


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client on the emptied session server (bytes in, bytes out)."""
    client = redis.Redis.from_url(redis_url, decode_responses=False)
    yield client
    client.close()


@pytest.fixture
def fresh_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A server of this test's own, for tests that restart or kill Redis."""
    server = RedisServer.on_free_port(tmp_path / "fresh-redis")
    yield server
    server.stop()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Kill any server or worker a test started and did not stop (also done at interpreter exit)."""
    stop_embedded(Path(os.environ["CAREDRIP_VAR_DIR"]))
    processes.kill_owned()
