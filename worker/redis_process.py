"""One private redis-server process: started, awaited until it answers, stopped, restarted.

On 127.0.0.1:`port`, or on a unix socket (mode 0700) when `port` is None: `data_dir/redis.sock`,
or, when that path is too long for a socket, one in a fresh private directory (0700, random name)
under the system's temporary directory. AOF on by default, no RDB snapshots. The server runs under
umask 077, so its AOF, RDB, log and pid file are 0600 and its directories 0700. Hashes keep values
up to 256 bytes in their compact encoding (`HASH_MAX_VALUE`: a sealed field is longer than its
plain text, and Redis's default of 64 would turn a sealed enrollment into a full hash table).
The process is started and stopped through `worker.processes` (own session, SIGTERM so that the
AOF is flushed, SIGKILL after a bound): a server this process started is killed at interpreter
exit unless it is `detached` (the embedded server, meant to outlive us; a fallback socket
directory of a detached server is removed by whoever stops it, `worker.redis_server`).
Users: the test suite (one server per session, fresh ones for restart and crash tests) and the
embedded server of `worker.redis_server`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from worker import processes
from worker.redis_binary import RedisServerError, find_redis_server
from worker.var_dir import PRIVATE, PRIVATE_UMASK

READY_TIMEOUT = 10.0  # seconds for a started server to answer PING
STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL
POLL_INTERVAL = 0.01
MAX_SOCKET_PATH = 100  # bytes; the kernel limit is 107 plus a NUL
LOG_TAIL = 2000  # characters of redis.log quoted in errors
HASH_MAX_VALUE = 256  # bytes: hash values up to this stay in the compact encoding (sealed PHI tokens)
SOCKET_DIR_PREFIX = "caredrip-redis-"  # the private directory of a socket whose natural path is too long

AppendFsync = Literal["always", "everysec", "no"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the caller races everyone else)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RedisServer:
    """One redis-server process on 127.0.0.1:`port`, or on a unix socket when `port` is None.

    `detached` servers are meant to outlive this process (the embedded server); the others are
    killed at interpreter exit if still running. `die_with_parent`: the kernel sends the server
    SIGTERM when the thread that started it ends (Linux), e.g. when `caredrip run` is killed.
    """

    data_dir: Path
    port: int | None = None
    appendonly: bool = True
    appendfsync: AppendFsync = "everysec"
    detached: bool = False
    executable: str | None = None
    die_with_parent: bool = False
    socket_path: Path | None = field(default=None, init=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).absolute()
        if self.port is None:
            self.socket_path = _socket_path_for(self.data_dir)
            if not self.socket_path.is_relative_to(self.data_dir) and not self.detached:
                weakref.finalize(self, shutil.rmtree, self.socket_path.parent, True)

    @classmethod
    def on_free_port(
        cls,
        data_dir: Path,
        *,
        appendonly: bool = True,
        appendfsync: AppendFsync = "everysec",
        detached: bool = False,
        die_with_parent: bool = False,
        attempts: int = 3,
    ) -> RedisServer:
        """Start a TCP server on a free port, trying another port if one is taken meanwhile."""
        error = RedisServerError("no attempt made")
        for _ in range(attempts):
            server = cls(data_dir, free_port(), appendonly, appendfsync, detached, die_with_parent=die_with_parent)
            try:
                return server.start()
            except RedisServerError as exc:
                error = exc
        raise error

    @property
    def url(self) -> str:
        """The redis-py URL: `redis://127.0.0.1:N/0` or `unix:///path?db=0`."""
        if self.socket_path is not None:
            return f"unix://{self.socket_path}?db=0"
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def broker_url(self) -> str:
        """The kombu (Celery broker) URL: `redis://127.0.0.1:N/0` or `redis+socket:///path`."""
        if self.socket_path is not None:
            return f"redis+socket://{self.socket_path}"
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The server's pid (also its process group), or None when not started."""
        return None if self._process is None else self._process.pid

    @property
    def log_path(self) -> Path:
        """Where the server writes its log."""
        return self.data_dir / "redis.log"

    def command(self) -> list[str]:
        """The redis-server command line for this server."""
        listen = (
            ["--port", "0", "--unixsocket", str(self.socket_path), "--unixsocketperm", "700"]
            if self.socket_path is not None
            else ["--port", str(self.port)]
        )
        return [
            self.executable or find_redis_server(),
            "--bind", "127.0.0.1",
            *listen,
            "--dir", str(self.data_dir),
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", self.appendfsync,
            "--save", "",
            "--hash-max-ziplist-value", str(HASH_MAX_VALUE),
            "--logfile", str(self.log_path),
            "--pidfile", str(self.data_dir / "redis.pid"),
            "--daemonize", "no",
        ]  # fmt: skip

    def start(self) -> Self:
        """Start the server and wait until it answers PING; raise with its log if it does not."""
        if self.running():
            raise RedisServerError(f"redis-server already running (pid {self.pid})")
        self.data_dir.mkdir(mode=PRIVATE, parents=True, exist_ok=True)
        if self.socket_path is not None:
            self.socket_path.parent.mkdir(mode=PRIVATE, parents=True, exist_ok=True)
        self._process = processes.start(
            self.command(), die_with_parent=self.die_with_parent, kill_at_exit=not self.detached, umask=PRIVATE_UMASK
        )
        try:
            self._wait_ready(READY_TIMEOUT)
        except RedisServerError:
            processes.kill(self._process)
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        """Poll PING until it answers, the process exits, or `timeout` passes."""
        assert self._process is not None
        import redis  # here, not at the top: `caredrip run` imports it while the server boots

        # What PING raises while a server is still starting (or while a port's old owner lingers).
        not_yet = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)
        client = redis.Redis.from_url(self.url, socket_timeout=1.0, socket_connect_timeout=1.0)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise RedisServerError(f"redis-server exited with {self._process.returncode}: {self._log_tail()}")
                with contextlib.suppress(*not_yet):
                    if client.ping():
                        return
                time.sleep(POLL_INTERVAL)
        finally:
            client.close()
        raise RedisServerError(f"redis-server did not answer within {timeout}s: {self._log_tail()}")

    def _log_tail(self) -> str:
        """The end of the server's log, for error messages."""
        try:
            return self.log_path.read_text(errors="replace")[-LOG_TAIL:]
        except OSError:
            return "(no log)"

    def running(self) -> bool:
        """Whether the process this object started is still alive."""
        return self._process is not None and self._process.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM the process group (the AOF is flushed), SIGKILL it after `timeout` seconds.

        Also reaps a server that has already exited (killed from outside, e.g. by a crash test).
        """
        if self._process is not None and not processes.stop(self._process, timeout):
            raise RedisServerError(f"redis-server (pid {self._process.pid}) survived SIGKILL")

    def restart(self) -> Self:
        """Stop, then start again on the same port and directory; the AOF is replayed."""
        self.stop()
        return self.start()

    def __enter__(self) -> Self:
        return self if self.running() else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _socket_path_for(data_dir: Path) -> Path:
    """`data_dir/redis.sock`, or a short private path under /tmp when that one is too long."""
    path = data_dir / "redis.sock"
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
        return path
    return Path(tempfile.mkdtemp(prefix=SOCKET_DIR_PREFIX)) / "redis.sock"  # 0700, a name nobody could guess


def remove_socket_dir(socket_path: Path) -> None:
    """Remove the private temporary directory of `socket_path`, if it is one of ours (a fallback)."""
    parent = socket_path.parent
    if parent.parent == Path(tempfile.gettempdir()) and parent.name.startswith(SOCKET_DIR_PREFIX):
        with contextlib.suppress(OSError):
            if parent.stat().st_uid == os.getuid():
                shutil.rmtree(parent)
