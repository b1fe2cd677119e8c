"""Child-process supervision for `caredrip run` and `caredrip demo`, and their children's command lines.

Each child (uvicorn, a Celery worker, beat) is started by `worker.processes` in its own session,
so a Ctrl-C in the terminal reaches only the supervising command, which then stops the children:
SIGTERM to every process group (last started first), one bounded wait, SIGKILL to whatever is
left. If the supervising command is killed outright, the kernel sends each child SIGTERM (Linux;
children are started from the thread that calls `start`, the main one). A child that dies on its
own is noticed by `first_dead()` and started again by `restart()` (a Celery worker exits when
the broker connection drops in some kombu versions; compose's `restart: unless-stopped` does the
same there), unless it keeps dying: past RESTART_LIMIT restarts in RESTART_WINDOW seconds the
caller stops the rest and exits non-zero.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

from worker import processes
from worker.var_dir import open_private, private_dir

STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
RESTART_LIMIT = 5  # restarts of one child ...
RESTART_WINDOW = 60.0  # ... within this many seconds, before giving up


@dataclass
class Child:
    """One supervised process: its name, command line and, once started, its Popen."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes]
    log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def exited(self) -> bool:
        return self.process.poll() is not None


@dataclass
class Supervisor:
    """Starts children in their own process groups and stops them all, never leaving one behind.

    `log_dir`: when given, each child's stdout and stderr go to `<log_dir>/<name>.log` (0600, in a
    0700 directory); otherwise they share this process's terminal.
    """

    env: Mapping[str, str]
    log_dir: Path | None = None
    stop_timeout: float = STOP_TIMEOUT
    children: list[Child] = field(default_factory=list)
    restarts: dict[str, list[float]] = field(default_factory=dict)

    def start(self, name: str, argv: list[str]) -> Child:
        """Start `argv` as a child in a new session (its pid is also its process group id)."""
        log: IO[bytes] | None = None
        if self.log_dir is not None:
            fd = open_private(private_dir(self.log_dir) / f"{name}.log", os.O_WRONLY | os.O_APPEND)
            log = open(fd, "ab")  # noqa: SIM115 - closed in stop()
        process = processes.start(
            argv,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT if log is not None else None,
            die_with_parent=True,
        )
        child = Child(name, argv, process, log)
        self.children.append(child)
        return child

    def pids(self) -> dict[str, int]:
        """name -> pid of every child, in start order."""
        return {child.name: child.pid for child in self.children}

    def first_dead(self) -> Child | None:
        """The first child that has exited, if any."""
        return next((c for c in self.children if c.exited()), None)

    def restart(self, child: Child) -> Child | None:
        """Start a dead child again; None when it already died too often to keep trying."""
        now = time.monotonic()
        recent = [t for t in self.restarts.get(child.name, []) if now - t < RESTART_WINDOW]
        if len(recent) >= RESTART_LIMIT:
            return None
        self.restarts[child.name] = [*recent, now]
        processes.kill(child.process)  # whatever it left in its group
        if child.log is not None:
            child.log.close()
        self.children.remove(child)
        return self.start(child.name, child.argv)

    def stop(self) -> None:
        """SIGTERM every group, wait up to `stop_timeout` in all, then SIGKILL what is left."""
        processes.stop_all([child.process for child in reversed(self.children)], self.stop_timeout)
        for child in self.children:
            if child.log is not None:
                child.log.close()
        self.children.clear()

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


@contextlib.contextmanager
def stop_requested() -> Iterator[threading.Event]:
    """An event set by SIGINT, SIGTERM or SIGHUP (the terminal closed) while inside the block; the old
    handlers come back after."""
    event = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        event.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield event
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def python_module(module: str, *args: str) -> list[str]:
    """`python -m module args…` with this interpreter (the venv's, when run from it)."""
    return [sys.executable, "-m", module, *args]


def celery_worker(queues: str, concurrency: int, *, name: str = "caredrip") -> list[str]:
    """A threads-pool Celery worker on `queues` (threads: sends mostly wait on the network)."""
    return python_module(
        "celery", "-A", "worker.celery_app", "--quiet", "worker", "-Q", queues, "-P", "threads", "-c", str(concurrency),
        "-n", f"{name}@%h", "--without-mingle", "--without-gossip", "-l", "WARNING",
    )  # fmt: skip


def celery_beat(schedule_file: Path) -> list[str]:
    """Celery beat (`worker.beat_app`: no task modules, no `celery` command to load), keeping its
    schedule state in `schedule_file`."""
    return python_module("worker.beat_app", "--schedule", str(schedule_file), "--loglevel", "WARNING")


def uvicorn_api(host: str, port: int) -> list[str]:
    """The HTTP API under uvicorn (no access log: JSON logs come from the app itself)."""
    return python_module(
        "uvicorn", "worker.api:app", "--host", host, "--port", str(port), "--log-level", "warning", "--no-access-log",
    )  # fmt: skip


def wait_for(probe_interval: float, stop: threading.Event, supervisor: Supervisor) -> Child | None:
    """Block until a stop is requested (None) or a child dies (that child)."""
    while not stop.wait(probe_interval):
        dead = supervisor.first_dead()
        if dead is not None:
            return dead
    return None
