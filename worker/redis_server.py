"""The embedded Redis: one private server per `var/` directory, shared by the caredrip commands
run without `REDIS_URL`, and outliving the command that started it.

`ensure_embedded` reuses the server recorded under `var/redis/` if it answers as the recorded
process, else starts one (`worker.redis_process.RedisServer`, detached); an exclusive lock keeps
two commands from starting two servers at once. It listens on a unix socket (mode 0700) in the
0700 directory `var/redis/`, never on TCP: only this user reaches it. Its URL is `unix:///…?db=0`
(kombu's form, `redis+socket:///…`, comes from `worker.wiring.broker_url`); on a var path too
long for a socket, in a private temporary directory instead (`worker.redis_process`).
`stop_embedded` stops it. One server as such, and finding its binary, live in
`worker.redis_process` and `worker.redis_binary`; their public names are importable from here too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from worker import processes
from worker.redis_binary import RedisServerError, find_redis_server
from worker.redis_process import MAX_SOCKET_PATH, STOP_TIMEOUT, RedisServer, free_port, remove_socket_dir
from worker.var_dir import exclusive, private_dir, tighten, write_atomically

__all__ = [
    "MAX_SOCKET_PATH",
    "EmbeddedRedis",
    "RedisServer",
    "RedisServerError",
    "embedded_url",
    "ensure_embedded",
    "find_redis_server",
    "free_port",
    "stop_embedded",
]

LOCK_TIMEOUT = 30.0  # seconds to wait for another command starting the embedded server


@dataclass(frozen=True)
class EmbeddedRedis:
    """The embedded server: its redis URL, whether this call started it, and its pid."""

    url: str
    started: bool
    pid: int


def ensure_embedded(var_dir: Path, *, die_with_parent: bool = False) -> EmbeddedRedis:
    """Reuse the embedded server of `var_dir` if it answers, else start one that outlives us.

    Data lives in `var_dir/redis/`; `redis.pid` and `redis.url` there name the server, and an
    exclusive lock on `redis/lock` keeps two commands from starting two servers at once.
    `die_with_parent`: a server started by this call gets SIGTERM when the calling thread ends
    (Linux), for a command that stops it on its way out and must not leave it behind if killed.
    """
    redis_dir = private_dir(private_dir(var_dir) / "redis")
    processes.reap_exited()
    with exclusive(redis_dir / "lock", LOCK_TIMEOUT):
        found = _live_embedded(redis_dir)
        if found is not None:
            url, pid = found
            return EmbeddedRedis(url=url, started=False, pid=pid)
        _forget(redis_dir)
        tighten([redis_dir])  # an AOF an older caredrip left 0644
        server = RedisServer(redis_dir, None, detached=True, die_with_parent=die_with_parent).start()
        assert server.pid is not None
        write_atomically(redis_dir / "redis.pid", f"{server.pid}\n")
        write_atomically(redis_dir / "redis.url", f"{server.url}\n")
        return EmbeddedRedis(url=server.url, started=True, pid=server.pid)


def embedded_url(var_dir: Path) -> str | None:
    """The URL the embedded server of `var_dir` answers on, known before it is started (or found):
    its socket `var_dir/redis/redis.sock`. None when that path is too long for a socket (the server
    then gets a private temporary one, named when it starts)."""
    socket_path = Path(var_dir).absolute() / "redis" / "redis.sock"
    if len(os.fsencode(socket_path)) > MAX_SOCKET_PATH:
        return None
    return f"unix://{socket_path}?db=0"


def stop_embedded(var_dir: Path, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the embedded server of `var_dir`; False when none was running."""
    redis_dir = Path(var_dir).absolute() / "redis"
    if not redis_dir.is_dir():
        return False
    with exclusive(redis_dir / "lock", LOCK_TIMEOUT):
        found = _live_embedded(redis_dir)
        if found is not None:
            _, pid = found
            if not processes.stop_pid(pid, timeout):
                raise RedisServerError(f"redis-server (pid {pid}) survived SIGKILL")
        _forget(redis_dir)
        return found is not None


def _forget(redis_dir: Path) -> None:
    """Remove the record of a server that is gone, and its socket's private directory if it had one."""
    socket_path = _socket_of(redis_dir)
    if socket_path is not None:
        remove_socket_dir(socket_path)
    for name in ("redis.url", "redis.pid"):
        (redis_dir / name).unlink(missing_ok=True)


def _socket_of(redis_dir: Path) -> Path | None:
    """The unix socket the recorded URL names (`unix:///path?db=0`), if any."""
    try:
        url = (redis_dir / "redis.url").read_text().strip()
    except OSError:
        return None
    return Path(url.removeprefix("unix://").partition("?")[0]) if url.startswith("unix://") else None


def _live_embedded(redis_dir: Path) -> tuple[str, int] | None:
    """(url, pid) of the recorded server if it answers PING and is the recorded process."""
    try:
        url = (redis_dir / "redis.url").read_text().strip()
        pid = int((redis_dir / "redis.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    import redis  # only when a server is recorded: a fresh var/ starts one without it

    client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
    try:
        info = client.info("server")
    except redis.RedisError:
        return None
    finally:
        client.close()
    return (url, pid) if info.get("process_id") == pid else None
