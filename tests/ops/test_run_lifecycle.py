"""`caredrip run` from a laptop's point of view: a fresh clone, a `kill -9`, a second run, a busy
port, and a banner that shows no password. Each runs the real command as a subprocess."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.ops.conftest import CAREDRIP, REPO, alive, children_of, cli_env, processes_for
from tests.support.redis_fixture import wait_until
from worker.redis_server import free_port
from worker.run_record import RUN_FILE, record_run, stop_leftovers
from worker.urls import mask_url

pytestmark = pytest.mark.slow

GONE_BOUND = 5.0  # seconds for every child of a killed run to be gone
READY = 30.0  # seconds for /healthz to answer 200
# A program that holds `port` on 127.0.0.1 and does nothing else, as a stale API would.
HOLD_PORT = "import socket, sys, time; s = socket.create_server(('127.0.0.1', int(sys.argv[1]))); time.sleep(600)"


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def _start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([CAREDRIP, "run", "--port", str(port)], env=env, cwd=REPO, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _stop(run: subprocess.Popen[bytes]) -> int:
    """Ctrl-C, the way an operator stops it; its exit code."""
    if run.poll() is None:
        run.send_signal(signal.SIGINT)
        try:
            return run.wait(20)
        except subprocess.TimeoutExpired:
            run.kill()
    return run.wait(5)


@contextlib.contextmanager
def running(env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`caredrip run` until the block ends, then Ctrl-C (the var_dir fixture reaps anything left)."""
    run = _start(env, port, log)
    try:
        yield run
    finally:
        _stop(run)


@contextlib.contextmanager
def port_holder(port: int, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A process listening on `port` (its environment names the var dir, so the fixture would catch it)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_PORT, str(port)], env=env, start_new_session=True)
    try:
        wait_until(lambda: _listening(port), timeout=10)
        yield holder
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(5)


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


def test_run_with_redis_url_starts_in_a_fresh_clone(var_dir: Path, tmp_path: Path, redis_url: str) -> None:
    """Item 19: no var/ yet and REDIS_URL set (with a password): beat finds its directory and stays up;
    var/ is private; the banner masks the password."""
    fresh = var_dir / "var"  # nothing created it: a fresh clone
    password = "s3cret-pw"
    url = redis_url.replace("redis://", f"redis://default:{password}@")
    port, log = free_port(), tmp_path / "run.log"
    with running(cli_env(fresh, REDIS_URL=url), port, log) as run:
        wait_until(lambda: _healthy(port), timeout=READY, interval=0.05)
        # beat wrote its schedule: without var/ it dies at start, five times, and the run gives up
        wait_until(lambda: list(fresh.glob("celerybeat-schedule*")), timeout=20, interval=0.1)
        assert run.poll() is None
    output = log.read_text()
    assert "exited" not in output, output
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
    assert password not in output
    assert mask_url(url) in output and "default:***@" in output


def test_kill_9_leaves_nothing_running_and_the_next_run_starts(var_dir: Path, tmp_path: Path) -> None:
    """Item 20: SIGKILL of `caredrip run`: API, worker, beat and the Redis it started are gone within
    seconds, and a second run on the same port and var dir answers /healthz."""
    env, port = cli_env(var_dir), free_port()
    first = _start(env, port, tmp_path / "first.log")
    try:
        wait_until(lambda: _healthy(port), timeout=READY, interval=0.05)
        children = wait_until(lambda: kids if len(kids := children_of(first.pid)) >= 4 else None, timeout=10)
    finally:
        first.kill()
        first.wait(5)
    wait_until(lambda: not any(alive(pid) for pid in children), timeout=GONE_BOUND)
    assert not processes_for(var_dir), "something of the killed run lives on"
    with running(env, port, tmp_path / "second.log") as second:
        wait_until(lambda: _healthy(port), timeout=READY, interval=0.05)
    assert second.returncode == 0
    assert "stopped" in (tmp_path / "second.log").read_text()


def test_a_closed_terminal_stops_everything(var_dir: Path, tmp_path: Path) -> None:
    """SIGHUP (the terminal window closed) is a stop like Ctrl-C: children and Redis stopped, pid file gone."""
    env, port = cli_env(var_dir), free_port()
    run = _start(env, port, tmp_path / "run.log")
    try:
        wait_until(lambda: _healthy(port), timeout=READY, interval=0.05)
        assert (var_dir / RUN_FILE).exists()
        run.send_signal(signal.SIGHUP)
        assert run.wait(20) == 0
    finally:
        _stop(run)
    assert not processes_for(var_dir)
    assert not (var_dir / RUN_FILE).exists()
    assert "caredrip run: stopped" in (tmp_path / "run.log").read_text()


def test_next_run_stops_what_a_killed_run_left_on_its_port(var_dir: Path, tmp_path: Path) -> None:
    """Item 20, where no parent-death signal reached a child (another OS, a child that ignored it):
    the pid file under var/ names it, and the next run stops it before binding the port."""
    env, port = cli_env(var_dir), free_port()
    with port_holder(port, env) as stale:
        record_run(var_dir, {"api": stale.pid})
        log = tmp_path / "run.log"
        with running(env, port, log):
            wait_until(lambda: _healthy(port), timeout=READY, interval=0.05)
            assert stale.poll() is not None, "the stale API is still running"
    assert f"api (pid {stale.pid})" in log.read_text()


def test_a_process_that_is_not_ours_is_left_alone(var_dir: Path, tmp_path: Path) -> None:
    """A recorded pid now belonging to another program (its start time differs) is never signalled:
    the run says the port is taken and exits 1 at once, without five restarts."""
    env, port = cli_env(var_dir), free_port()
    with port_holder(port, env) as other:
        record_run(var_dir, {"api": other.pid})
        record = json.loads((var_dir / RUN_FILE).read_text())
        for entry in record["processes"]:
            entry["started"] = "not-its-start-time"
        (var_dir / RUN_FILE).write_text(json.dumps(record))
        assert stop_leftovers(var_dir) == {}
        started = time.monotonic()
        result = subprocess.run([CAREDRIP, "run", "--port", str(port)], env=env, cwd=REPO, capture_output=True,
                                text=True, timeout=30)
        assert result.returncode == 1
        assert time.monotonic() - started < 10
        assert f"port {port}" in result.stderr and "in use" in result.stderr
        assert other.poll() is None, "another program's process was signalled"
    assert not processes_for(var_dir)


def test_a_second_run_on_the_same_var_dir_is_refused(var_dir: Path, tmp_path: Path) -> None:
    """Two stacks on one var dir would share the embedded Redis and beat's schedule: the second one
    says so and exits 1; the first keeps running."""
    env = cli_env(var_dir)
    port = free_port()
    with running(env, port, tmp_path / "first.log") as first:
        wait_until(lambda: _healthy(port), timeout=READY, interval=0.05)
        second = subprocess.run([CAREDRIP, "run", "--port", str(free_port())], env=env, cwd=REPO,
                                capture_output=True, text=True, timeout=30)
        assert second.returncode == 1
        assert "already running" in second.stderr and str(first.pid) in second.stderr
        assert first.poll() is None and _healthy(port)
    assert first.returncode == 0


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://:secret@host:6379/0", "redis://:***@host:6379/0"),
    ("redis://user:secret@host:6379/0", "redis://user:***@host:6379/0"),
    ("rediss://default:p%40ss@cache.example.com:6380/1", "rediss://default:***@cache.example.com:6380/1"),
    ("redis://host:6379/0?password=secret&db=1", "redis://host:6379/0?password=***&db=1"),
    ("redis://:p@ss@host/0", "redis://:***@host/0"),
    ("unix://:secret@/tmp/redis.sock?db=0", "unix://:***@/tmp/redis.sock?db=0"),
    ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ("unix:///tmp/redis.sock?db=0", "unix:///tmp/redis.sock?db=0"),
    ("redis://user@host/0", "redis://user@host/0"),
])
def test_mask_url_hides_only_the_password(url: str, shown: str) -> None:
    """Item 9 (part): every URL `caredrip run` and the demo print goes through mask_url."""
    assert mask_url(url) == shown
