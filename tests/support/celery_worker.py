"""Real Celery workers for tests: one in a thread of the test process, or one as a subprocess.

`in_process_worker` wraps `celery.contrib.testing.worker.start_worker` and defuses its trap: when
a task is still running at `shutdown_timeout`, start_worker raises and leaves
`celery.worker.state.should_terminate == 0`, and the next in-process worker hangs. Here the
leftover thread is joined and the flag reset.

`subprocess_worker` runs `python -m celery -A module worker` in its own session (started, stopped
and killed at exit by `worker.processes`), ready once it answers a broadcast ping; `.kill()` is the
crash, `.stop()` the warm shutdown.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from celery import Celery
from celery.contrib.testing.worker import TestWorkController, start_worker
from celery.worker import state as worker_state
from kombu.exceptions import OperationalError

from worker import processes

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 20.0  # seconds for a subprocess worker to answer ping
STOP_TIMEOUT = 15.0  # seconds of warm shutdown before SIGKILL
POLL_INTERVAL = 0.05
LOG_TAIL = 3000


class _TrackedWorkController(TestWorkController):  # type: ignore[misc]
    """A TestWorkController that remembers the thread it runs in, to join it after a timeout."""

    thread: threading.Thread | None = None

    def start(self) -> Any:
        self.thread = threading.current_thread()
        return super().start()


@contextlib.contextmanager
def in_process_worker(
    app: Celery,
    *,
    pool: str = "threads",
    concurrency: int = 4,
    queues: Sequence[str] | None = None,
    shutdown_timeout: float = 10.0,
    leftover_timeout: float = 30.0,
) -> Iterator[TestWorkController]:
    """Run a real worker for `app` in a thread, consuming `queues` (default: all of the app's).

    If a task outlives `shutdown_timeout`, the worker thread is given `leftover_timeout` more
    seconds, the stop flag is reset, and a warning is issued; a thread still alive after that
    raises.
    """
    consume_from = _consume_from(app)
    worker: _TrackedWorkController | None = None
    try:
        with start_worker(
            app,
            pool=pool,
            concurrency=concurrency,
            perform_ping_check=False,
            shutdown_timeout=shutdown_timeout,
            loglevel="WARNING",
            queues=list(queues) if queues else None,
            WorkController=_TrackedWorkController,
        ) as worker:
            yield worker
    except RuntimeError as exc:
        if "failed to exit" not in str(exc) or worker is None:
            raise
        _reap_leftover(worker, leftover_timeout, exc)
    finally:
        _restore_consume_from(app, consume_from)


def _reap_leftover(worker: _TrackedWorkController, timeout: float, cause: RuntimeError) -> None:
    """Join a worker thread that overran its shutdown, then clear celery's global stop flag."""
    thread = worker.thread
    if thread is not None:
        thread.join(timeout)
    worker_state.should_terminate = None
    if thread is not None and thread.is_alive():
        raise RuntimeError(f"worker thread still running {timeout}s after shutdown") from cause
    warnings.warn(f"a task outlived the in-process worker's shutdown_timeout: {cause}", stacklevel=3)


def _consume_from(app: Celery) -> dict[str, Any] | None:
    """The app's current queue selection (`-Q` is stored on the app, so it must be undone)."""
    selected: dict[str, Any] | None = app.amqp.queues._consume_from
    return None if selected is None else dict(selected)


def _restore_consume_from(app: Celery, selected: dict[str, Any] | None) -> None:
    """Put back the queue selection saved by `_consume_from`."""
    app.amqp.queues._consume_from = selected


@dataclass
class SubprocessWorker:
    """A `celery worker` child process, leader of its own process group."""

    process: subprocess.Popen[bytes]
    nodename: str
    broker_url: str
    log_path: Path
    _control: Celery = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._control = Celery("caredrip_test_control", broker=self.broker_url, set_as_current=False)

    @property
    def pid(self) -> int:
        """The worker's main pid (and process group id)."""
        return self.process.pid

    def alive(self) -> bool:
        """Whether the main process is still running."""
        return self.process.poll() is None

    def ping(self, timeout: float = 0.5) -> bool:
        """Whether the worker answers a broadcast ping within `timeout` seconds."""
        inspector = self._control.control.inspect(timeout=timeout, destination=[self.nodename])
        replies = inspector.ping()
        return bool(replies) and self.nodename in replies

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Wait until the worker answers ping; raise with its log if it exits or stays silent."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"celery worker exited with {self.process.returncode}: {self.log_tail()}")
            with contextlib.suppress(redis.ConnectionError, OperationalError):  # a broker that restarted
                if self.ping():
                    return
        raise RuntimeError(f"celery worker did not answer ping in {timeout}s: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the whole process group: a crash, tasks in flight die with it."""
        if not processes.kill(self.process):
            raise RuntimeError(f"celery worker (pid {self.pid}) survived SIGKILL")

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Warm shutdown (SIGTERM to the main process only: not to prefork children mid-task), then
        SIGKILL to the group after `timeout` (stragglers, or a main process that ignored SIGTERM)."""
        if not processes.stop(self.process, timeout, whole_group=False):
            raise RuntimeError(f"celery worker (pid {self.pid}) survived SIGKILL")

    def close(self) -> None:
        """Stop the worker if needed (a no-op once stopped or killed) and release the control connection."""
        self.stop()
        self._control.close()

    def log_tail(self) -> str:
        """The end of the worker's combined stdout and stderr."""
        try:
            return self.log_path.read_text(errors="replace")[-LOG_TAIL:]
        except OSError:
            return "(no log)"


@contextlib.contextmanager
def subprocess_worker(
    app_module: str,
    broker_url: str,
    env: Mapping[str, str],
    *,
    pool: str = "prefork",
    concurrency: int = 2,
    queues: str = "intake,dispatch,send",
    ready_timeout: float = READY_TIMEOUT,
) -> Iterator[SubprocessWorker]:
    """Run `celery -A app_module worker` as a child in its own session until the block ends.

    `env` is laid over this process's environment (it carries REDIS_URL and the like). The
    repository root leads PYTHONPATH (so `tests.*` and `worker.*` import from the tree, not from
    site-packages, where textstat 0.7.13 installs a stray `tests` package) and is the working
    directory.
    """
    nodename = f"test-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
    with tempfile.TemporaryDirectory(prefix="caredrip-worker-") as log_dir:
        log_path = Path(log_dir) / "worker.log"
        worker = _spawn(app_module, broker_url, env, pool, concurrency, queues, nodename, log_path)
        try:
            worker.wait_ready(ready_timeout)
            yield worker
        finally:
            worker.close()


def _spawn(
    app_module: str,
    broker_url: str,
    env: Mapping[str, str],
    pool: str,
    concurrency: int,
    queues: str,
    nodename: str,
    log_path: Path,
) -> SubprocessWorker:
    """Start the worker process, its output going to `log_path`."""
    command = [
        sys.executable, "-m", "celery", "-A", app_module, "worker",
        "-P", pool, "-c", str(concurrency), "-Q", queues, "-n", nodename,
        "--without-mingle", "--without-gossip", "--without-heartbeat", "-l", "WARNING",
    ]  # fmt: skip
    child_env = {**os.environ, **env}
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), child_env.get("PYTHONPATH", "")) if p)
    with open(log_path, "wb") as log:
        process = processes.start(command, env=child_env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    return SubprocessWorker(process, nodename, broker_url, log_path)
