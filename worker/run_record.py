"""`caredrip run`'s record under var/, so that the next run can tell "still running" from "killed,
and maybe left something behind".

- `run.lock` is held (flock) by the running command for its whole life. The kernel drops it when
  the command dies, even by SIGKILL: a run that cannot take it knows another one is alive on the
  same var dir, and refuses to start a second stack on the same Redis and beat schedule.
- `run.json` names the command's pid and every process it started (the embedded Redis when it
  started it, the API, the worker, beat) with each one's start time. It is rewritten whenever a
  child is (re)started and removed at a clean exit. A run that takes the lock and still finds it
  stops what it lists, last started first, each only if its start time still matches: a pid the
  system has since given to another program is never signalled.

Linux also kills a killed run's children by itself (`worker.processes`, die_with_parent); this
record covers the rest: other systems, a child that ignored SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from worker import processes
from worker.errors import CaredripError
from worker.var_dir import LockHeld, exclusive, write_atomically

RUN_LOCK = "run.lock"
RUN_FILE = "run.json"
STOP_TIMEOUT = 10.0  # seconds for each leftover between SIGTERM and SIGKILL


class AlreadyRunning(CaredripError):
    """Raised when another `caredrip run` holds the var dir's run lock."""


@contextlib.contextmanager
def holding_run_lock(var_dir: Path) -> Iterator[None]:
    """Hold `var_dir/run.lock` for the block, or raise AlreadyRunning at once; run.json goes at the end."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(exclusive(var_dir / RUN_LOCK, timeout=0))
        except LockHeld:
            pid = _read(var_dir).get("pid", "unknown")
            raise AlreadyRunning(
                f"caredrip run is already running for {var_dir} (pid {pid}): stop it first (Ctrl-C in its "
                "terminal), or give this one another CAREDRIP_VAR_DIR"
            ) from None
        try:
            yield
        finally:
            (var_dir / RUN_FILE).unlink(missing_ok=True)


def record_run(var_dir: Path, started: Mapping[str, int]) -> None:
    """Write run.json: this process and `started` (name -> pid, in start order) with start times."""
    entries = [{"name": name, "pid": pid, "started": processes.start_time(pid)} for name, pid in started.items()]
    write_atomically(var_dir / RUN_FILE, json.dumps({"pid": os.getpid(), "processes": entries}, indent=1) + "\n")


def stop_leftovers(var_dir: Path, timeout: float = STOP_TIMEOUT) -> dict[str, int]:
    """Stop what run.json lists and is still the same process, last started first; name -> pid stopped.

    Call it holding the run lock: then the run that wrote the file is gone.
    """
    stopped: dict[str, int] = {}
    for entry in reversed(_read(var_dir).get("processes", [])):
        try:
            name, pid, started = str(entry["name"]), int(entry["pid"]), entry["started"]
        except (KeyError, TypeError, ValueError):
            continue
        if started is not None and processes.alive(pid) and processes.start_time(pid) == started:
            processes.stop_pid(pid, timeout)
            stopped[name] = pid
    return stopped


def _read(var_dir: Path) -> dict[str, Any]:
    """run.json's content; empty when missing or unreadable."""
    try:
        content = json.loads((var_dir / RUN_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return content if isinstance(content, dict) else {}
