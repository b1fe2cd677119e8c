"""worker.processes with real processes: stop within a bound, the whole group, children that die with
their parent, kill at exit, and start times that tell a reused pid apart."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.redis_fixture import wait_until
from worker import processes

pytestmark = pytest.mark.timeout(60)

REPO_ROOT = Path(__file__).resolve().parents[2]
# Ignores SIGTERM, starts a grandchild in its own group, writes "<grandchild pid>" to argv[1], then waits.
STUBBORN = (
    "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
    "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
    "open(sys.argv[1] + '.tmp', 'w').write(str(g.pid)); __import__('os').replace(sys.argv[1] + '.tmp', sys.argv[1]);"
    "time.sleep(60)"
)
# Starts `sleep` through worker.processes (die_with_parent / kill_at_exit from argv), writes its pid
# to argv[1], then waits for SIGKILL (argv[4] == "wait") or exits normally.
PARENT = (
    "import os, sys, time; from worker import processes;"
    "p = processes.start([sys.executable, '-c', 'import time; time.sleep(60)'],"
    " die_with_parent=sys.argv[2] == '1', kill_at_exit=sys.argv[3] == '1');"
    "open(sys.argv[1] + '.tmp', 'w').write(str(p.pid)); os.replace(sys.argv[1] + '.tmp', sys.argv[1]);"
    "time.sleep(60) if sys.argv[4] == 'wait' else None"
)


def _gone(pid: int) -> Callable[[], bool]:
    return lambda: not processes.alive(pid)


def _read_pid(path: Path) -> int:
    return int(wait_until(lambda: path.read_text() if path.exists() else None, timeout=15))


@contextlib.contextmanager
def cleanup(*pids: int) -> Iterator[None]:
    """Whatever a failed assertion leaves behind is killed, group and all."""
    try:
        yield
    finally:
        for pid in pids:
            processes.signal_group(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _parent(
    tmp_path: Path, *, die_with_parent: bool, kill_at_exit: bool, wait: bool
) -> tuple[subprocess.Popen[bytes], int]:
    """A Python process that started a sleeper through worker.processes: (it, the sleeper's pid)."""
    tmp_path.mkdir()
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(pid_file), str(int(die_with_parent)), str(int(kill_at_exit)),
         "wait" if wait else "exit"],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, start_new_session=True,
    )
    return parent, _read_pid(pid_file)


def test_stop_escalates_to_sigkill_of_the_whole_group_within_the_bound(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    child = processes.start([sys.executable, "-c", STUBBORN, str(pid_file)])
    grandchild = _read_pid(pid_file)
    with cleanup(child.pid, grandchild):
        assert os.getpgid(child.pid) == child.pid == os.getpgid(grandchild)
        started = time.monotonic()
        assert processes.stop(child, timeout=0.5)
        assert time.monotonic() - started < 0.5 + processes.KILL_TIMEOUT
        assert child.returncode == -signal.SIGKILL
        wait_until(_gone(grandchild), timeout=5)
        assert child.pid not in processes._LIVE
        assert processes.stop(child) and processes.kill(child), "stopping twice signals nothing"


def test_children_die_with_their_killed_parent_only_when_asked(tmp_path: Path) -> None:
    for die_with_parent in (True, False):
        parent, child = _parent(tmp_path / str(die_with_parent), die_with_parent=die_with_parent,
                                kill_at_exit=True, wait=True)
        with cleanup(parent.pid, child):
            os.kill(parent.pid, signal.SIGKILL)  # no atexit, no cleanup: only the kernel can help
            parent.wait(5)
            if die_with_parent:
                wait_until(_gone(child), timeout=5)
            else:
                time.sleep(0.5)  # the control: give a (wrong) signal the same chance to arrive
                assert processes.alive(child)


def test_owned_children_are_killed_at_exit_detached_ones_are_not(tmp_path: Path) -> None:
    for kill_at_exit in (True, False):
        parent, child = _parent(tmp_path / str(kill_at_exit), die_with_parent=False, kill_at_exit=kill_at_exit,
                                wait=False)
        with cleanup(child):
            assert parent.wait(15) == 0
            if kill_at_exit:
                wait_until(_gone(child), timeout=5)
            else:
                assert processes.alive(child)


def test_stop_pid_stops_a_process_we_did_not_start() -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    with cleanup(other.pid):
        assert processes.stop_pid(other.pid, timeout=5)
        assert other.wait(5) == -signal.SIGTERM


def test_start_time_tells_processes_apart() -> None:
    mine = processes.start_time(os.getpid())
    assert mine is not None and mine == processes.start_time(os.getpid())
    child = processes.start([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert processes.start_time(child.pid) not in (None, mine)
    finally:
        processes.stop(child)
    assert processes.start_time(child.pid) is None
