"""`caredrip run`: API, worker and beat in one command for a laptop.

Before starting anything it creates `CAREDRIP_VAR_DIR` (0700) if missing, takes the var dir's run
lock (a second run on the same var dir is refused), stops what a killed earlier run left behind
(`worker.run_record`), and checks that the API port is free, so a busy port is one clear error
rather than five restarts. Redis is `REDIS_URL`, or the embedded server under the var dir (started
here if no other caredrip command started it first, and then stopped here too). The children start
API first (uvicorn's import is the slow part), then the worker, then beat; they share this
command's environment plus `REDIS_URL`, so none of them starts a second Redis. The embedded server
is started (or found) while they import: its URL, a socket under the var dir, is known before it
answers (when that path is too long for a socket, the server starts first and names it). If this
command is killed, they get SIGTERM from the kernel (Linux), and so does an embedded Redis it started.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from worker import autogroup
from worker.errors import CaredripError
from worker.redis_server import embedded_url, ensure_embedded, find_redis_server, stop_embedded
from worker.run_record import holding_run_lock, record_run, stop_leftovers
from worker.supervisor import (
    Child,
    Supervisor,
    celery_beat,
    celery_worker,
    stop_requested,
    uvicorn_api,
    wait_for,
)
from worker.urls import mask_url
from worker.var_dir import private_dir, tighten
from worker.wiring import kombu_url

if TYPE_CHECKING:
    from worker.settings import Settings

READY_TIMEOUT = 30.0  # seconds for /healthz to answer before we give up waiting (not running)
LOOP_INTERVAL = 0.1
WORKER_QUEUES = "intake,dispatch,send,webhooks"
WORKER_THREADS = 8
# While the API imports, the worker's and beat's sessions wait behind it for the CPUs (autogroup
# nice; each child has its own session): /healthz answers sooner, and the worker still imports on
# whatever the API leaves idle (the other core). Back to 0 once the API answers.
BEHIND_API = ("worker", "beat")
BEHIND_API_NICE = 10  # weight 110 against 1024: the API keeps a core; under load the worker still advances
# What caredrip keeps directly under the var dir (the embedded Redis's directory is tightened by
# worker.redis_server when it starts a server; keys/ by worker.phi.keyfile).
OURS = ("outbox.jsonl", "run.json", "run.lock", "celerybeat-schedule", "celerybeat-schedule.db",
        "celerybeat-schedule.dat", "celerybeat-schedule.dir", "celerybeat-schedule.bak")  # fmt: skip

Print = Callable[[str], None]


class PortInUse(CaredripError):
    """Raised when the API's address is taken by a program that is not a leftover of ours."""


@dataclass(frozen=True)
class RedisHandle:
    """The Redis this command uses; `started`: ours to stop at the end (`pid`: the server's)."""

    url: str
    var_dir: Path
    embedded: bool
    started: bool
    pid: int | None = None


def resolve_redis(settings: Settings, var_dir: Path) -> RedisHandle:
    """REDIS_URL if set, else the embedded server of the var dir (reused, or started to die with us)."""
    if settings.redis_url:
        return RedisHandle(settings.redis_url, var_dir, embedded=False, started=False)
    server = ensure_embedded(var_dir, die_with_parent=True)
    return RedisHandle(server.url, var_dir, embedded=True, started=server.started, pid=server.pid)


def release_redis(handle: RedisHandle) -> None:
    """Stop the embedded server if this command started it; leave anyone else's alone."""
    if handle.started:
        stop_embedded(handle.var_dir)


def known_url(settings: Settings, var_dir: Path) -> str | None:
    """The Redis URL before the embedded server answers: REDIS_URL, or the embedded server's socket
    (`worker.redis_server.embedded_url`); None when only starting the server names it. Raises
    RedisServerError when the embedded server is needed and no redis-server can be found."""
    if settings.redis_url:
        return settings.redis_url
    find_redis_server()  # no binary: one clear error before any child starts
    return embedded_url(var_dir)


def child_env(url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment plus the Redis and var dir every child must share. The broker URL
    is given to Celery as well (CELERY_BROKER_URL, which Celery reads first): beat then binds its
    broker without loading the settings (worker.celery_app._bind_broker)."""
    env = dict(os.environ)
    env.update(REDIS_URL=url, CELERY_BROKER_URL=kombu_url(url), CAREDRIP_VAR_DIR=str(var_dir), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def check_port(host: str, port: int) -> None:
    """Raise PortInUse if nothing could listen on host:port now (bound as uvicorn binds: SO_REUSEADDR)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(f"port {port} on {host} is in use by another program: stop it, "
                                "or choose another port with --port") from None
            raise CaredripError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def health_url(host: str, port: int) -> str:
    probe_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    probe_host = "[::1]" if probe_host == "::" else probe_host
    return f"http://{probe_host}:{port}/healthz"


def healthy(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=0.5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def banner(settings: Settings, handle: RedisHandle, host: str, port: int) -> str:
    where = "REDIS_URL" if not handle.embedded else "embedded, started now" if handle.started else "embedded, reused"
    channels = f"SMS_CHANNEL={settings.sms_channel}, EMAIL_CHANNEL={settings.email_channel}"
    return "\n".join([
        "caredrip run",
        f"  API     {mask_url(f'http://{host}:{port}')}  (OpenAPI: /docs, health: /healthz)",
        f"  Redis   {mask_url(handle.url)}  ({where})",
        f"  Outbox  {(handle.var_dir / 'outbox.jsonl')}  ({channels})",
        f"  Worker  queues {WORKER_QUEUES}, {WORKER_THREADS} threads; beat every second",
        "  Press Ctrl-C to stop everything.",
    ])  # fmt: skip


def start_children(supervisor: Supervisor, var_dir: Path, host: str, port: int) -> None:
    supervisor.start("api", uvicorn_api(host, port))
    supervisor.start("worker", celery_worker(WORKER_QUEUES, WORKER_THREADS))
    supervisor.start("beat", celery_beat(var_dir / "celerybeat-schedule"))


def behind_api(supervisor: Supervisor, value: int) -> None:
    """Set the autogroup nice of the sessions of BEHIND_API (best effort: `worker.autogroup`)."""
    for child in supervisor.children:
        if child.name in BEHIND_API:
            autogroup.set_nice(child.pid, value)


def wait_healthy(url: str, stop: threading.Event, supervisor: Supervisor, started: float, out: Print) -> Child | None:
    """Poll /healthz until it answers (prints the time it took), a stop, or a child's death."""
    while not stop.is_set():
        dead = supervisor.first_dead()
        if dead is not None:
            return dead
        if healthy(url):
            out(f"  API ready in {time.monotonic() - started:.2f} s")
            return None
        if time.monotonic() - started > READY_TIMEOUT:
            out(f"  API not answering {url} after {READY_TIMEOUT:.0f} s; still waiting")
            return None
        stop.wait(LOOP_INTERVAL)
    return None


def record(handle: RedisHandle, supervisor: Supervisor) -> None:
    """run.json: the embedded Redis if this command started it, then every child, in start order."""
    ours = {"redis": handle.pid} if handle.started and handle.pid is not None else {}
    record_run(handle.var_dir, {**ours, **supervisor.pids()})


def keep_running(
    dead: Child | None, stop: threading.Event, supervisor: Supervisor, handle: RedisHandle, out: Print
) -> Child | None:
    """Restart children that die until a stop is requested (None) or one dies too often (it)."""
    while dead is not None:
        if supervisor.restart(dead) is None:
            return dead
        record(handle, supervisor)
        out(f"caredrip run: {dead.name} exited with {dead.process.returncode}; started it again")
        dead = wait_for(LOOP_INTERVAL, stop, supervisor)
    return None


def clear_leftovers(var_dir: Path, out: Print) -> None:
    """Stop what a killed earlier run on this var dir left running, saying what it was."""
    stopped = stop_leftovers(var_dir)
    if stopped:
        listed = ", ".join(f"{name} (pid {pid})" for name, pid in stopped.items())
        out(f"caredrip run: stopped what an earlier run left behind: {listed}")


def run_stack(settings: Settings, host: str, port: int, out: Print = print) -> int:
    """Run until Ctrl-C/SIGTERM (exit 0) or until a child keeps dying (exit 1); stop everything.

    Raises AlreadyRunning (another run holds the var dir) or PortInUse before starting anything.
    """
    started = time.monotonic()
    var_dir = private_dir(settings.var_dir)
    with stop_requested() as stop, holding_run_lock(var_dir):
        clear_leftovers(var_dir, out)
        tighten(var_dir / name for name in OURS)  # what an older caredrip left readable
        record_run(var_dir, {})
        check_port(host, port)
        handle: RedisHandle | None = None
        try:
            url = known_url(settings, var_dir)
            if url is None:
                handle = resolve_redis(settings, var_dir)
                url = handle.url
            with Supervisor(child_env(url, var_dir)) as supervisor:
                start_children(supervisor, var_dir, host, port)
                behind_api(supervisor, BEHIND_API_NICE)
                if handle is None:  # while the children import (~1 s before they ask Redis anything)
                    handle = resolve_redis(settings, var_dir)
                    if handle.url != url:
                        raise CaredripError(f"the embedded Redis answers on {mask_url(handle.url)}, not {url}")
                record(handle, supervisor)
                out(banner(settings, handle, host, port))
                try:
                    dead = wait_healthy(health_url(host, port), stop, supervisor, started, out)
                finally:
                    behind_api(supervisor, 0)
                dead = keep_running(dead or wait_for(LOOP_INTERVAL, stop, supervisor), stop, supervisor, handle, out)
                if dead is not None:
                    out(f"caredrip run: {dead.name} keeps exiting ({dead.process.returncode}); stopping the rest")
                else:
                    out("caredrip run: stopping")
        finally:
            if handle is not None:
                release_redis(handle)
    out("caredrip run: stopped")
    return 1 if dead is not None else 0
