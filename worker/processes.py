"""Child processes that do not outlive their owner: start in a new session, stop with a deadline,
reap at exit. The one place caredrip starts and stops long-lived children (the API, Celery workers
and beat under `caredrip run` and `caredrip demo`, redis-server, and the tests' worker processes).

- `start()` runs the child in a new session: its pid is also its process group id, a Ctrl-C in the
  terminal reaches only the parent, and a signal to the group also reaches whatever the child
  spawned. The child is registered here until it is stopped.
- `die_with_parent=True` (Linux; a no-op elsewhere) asks the kernel to send the child SIGTERM when
  the thread that started it ends, even by SIGKILL (`prctl(PR_SET_PDEATHSIG)`, set between fork
  and exec). Start such children from a thread that lives as long as they should: the main one.
- At interpreter exit, registered children started with `kill_at_exit=True` (the default) are
  SIGKILLed by group; the others (a server meant to outlive us) are left running.
- `stop_all()` stops several children under one deadline: SIGTERM to each group (or to each
  leader only, when a warm shutdown must not reach pool processes), a wait, then SIGKILL to every
  group (which also catches what a child left behind) and a bounded wait. `stop_pid()` does the same
  for a process known only by pid (started by another command). `alive()` tells a running process
  from a zombie; `start_time()` tells a process from a later one that reused its pid.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
KILL_TIMEOUT = 5.0  # seconds to wait for a SIGKILLed group
POLL_INTERVAL = 0.02
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>

Output = int | IO[bytes] | None  # subprocess.DEVNULL, a file, or None: this process's own stream

# Children started here and not yet stopped: pid -> (process, kill at interpreter exit).
_LIVE: dict[int, tuple[subprocess.Popen[bytes], bool]] = {}


def start(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    stdout: Output = subprocess.DEVNULL,
    stderr: Output = subprocess.DEVNULL,
    die_with_parent: bool = False,
    kill_at_exit: bool = True,
    umask: int = -1,
) -> subprocess.Popen[bytes]:
    """Start `argv` in a new session (stdin from /dev/null) and register it; `umask`: the child's
    (-1: this process's)."""
    process = subprocess.Popen(
        list(argv),
        env=None if env is None else dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
        preexec_fn=_parent_death_signal(signal.SIGTERM) if die_with_parent else None,
        umask=umask,
    )
    _LIVE[process.pid] = (process, kill_at_exit)
    return process


def signal_group(pgid: int, sig: int) -> None:
    """Send `sig` to the process group `pgid`; a group already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_all(
    processes: Sequence[subprocess.Popen[bytes]], timeout: float = STOP_TIMEOUT, *, whole_group: bool = True
) -> list[subprocess.Popen[bytes]]:
    """SIGTERM each (its group, or its leader only), wait up to `timeout` in all, SIGKILL every group,
    reap; the processes still running after that (normally none). One already stopped is skipped."""
    processes = _unstopped(processes)
    for process in processes:
        if whole_group:
            signal_group(process.pid, signal.SIGTERM)
        elif process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(max(0.0, deadline - time.monotonic()))
    return _kill_and_reap(processes)


def stop(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT, *, whole_group: bool = True) -> bool:
    """`stop_all` for one process; whether it is gone."""
    return not stop_all([process], timeout, whole_group=whole_group)


def kill(process: subprocess.Popen[bytes]) -> bool:
    """SIGKILL the process group at once and reap the leader; whether it is gone."""
    return not _kill_and_reap(_unstopped([process]))


def stop_pid(pid: int, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the group led by `pid` (ours or another command's) like `stop`; whether it is gone."""
    registered = _LIVE.get(pid)
    if registered is not None:
        return stop(registered[0], timeout)
    signal_group(pid, signal.SIGTERM)
    if _wait_gone(pid, timeout):
        return True
    signal_group(pid, signal.SIGKILL)
    return _wait_gone(pid, KILL_TIMEOUT)


def _unstopped(processes: Sequence[subprocess.Popen[bytes]]) -> list[subprocess.Popen[bytes]]:
    """Those not yet stopped here: a leader reaped and forgotten may have had its pid reused."""
    return [process for process in processes if process.returncode is None or process.pid in _LIVE]


def _kill_and_reap(processes: Sequence[subprocess.Popen[bytes]]) -> list[subprocess.Popen[bytes]]:
    """SIGKILL every group, reap the leaders, forget them; those still running."""
    for process in processes:
        signal_group(process.pid, signal.SIGKILL)
    stubborn = []
    for process in processes:
        try:
            process.wait(KILL_TIMEOUT)
        except subprocess.TimeoutExpired:
            stubborn.append(process)
        else:
            _LIVE.pop(process.pid, None)
    return stubborn


def _wait_gone(pid: int, timeout: float) -> bool:
    """Poll until `pid` (not our child) has exited, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL)
    return True


def alive(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie (a zombie has exited; only its parent can reap it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, alive
    state = _proc_stat(pid)
    return state is None or state[0] != "Z"


def start_time(pid: int) -> str | None:
    """An opaque token that differs between two processes that held the same pid; None if unknown.

    On Linux, the boot id and the start time in clock ticks since boot (/proc/PID/stat field 22);
    elsewhere what `ps -o lstart=` prints.
    """
    state = _proc_stat(pid)
    if state is not None:
        boot = Path("/proc/sys/kernel/random/boot_id")
        boot_id = boot.read_text().strip() if boot.exists() else ""
        return f"{boot_id}:{state[19]}"
    if not Path("/proc").is_dir() and shutil.which("ps"):
        shown = subprocess.run(["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True, text=True, check=False)
        return shown.stdout.strip() or None
    return None


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first); None without procfs."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def reap_exited() -> None:
    """Reap and forget registered children that have exited on their own (e.g. crashed).

    Safe from several threads at once: entries are popped, never deleted.
    """
    for pid, (process, _) in list(_LIVE.items()):
        if process.poll() is not None:
            _LIVE.pop(pid, None)


def kill_owned() -> None:
    """SIGKILL (by group) every registered child started with `kill_at_exit`; run at interpreter exit."""
    reap_exited()  # an exited leader's pid may be reused: never signal it
    _kill_and_reap([process for process, kill_at_exit in list(_LIVE.values()) if kill_at_exit])


atexit.register(kill_owned)


def _parent_death_signal(sig: signal.Signals) -> Callable[[], None] | None:
    """A preexec_fn that makes the kernel send `sig` to the child when its parent thread ends."""
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:  # runs in the child between fork and exec: no allocation-heavy work
        prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    return preexec


@functools.cache
def _prctl() -> Any:
    """libc's prctl on Linux, else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
