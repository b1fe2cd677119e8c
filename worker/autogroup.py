"""The CPU share of a whole session: Linux's autogroup nice (`/proc/<pid>/autogroup`).

With `kernel.sched_autogroup_enabled` (the default on desktop kernels), the scheduler first shares
the CPUs between sessions (autogroups), then between the processes of each session; a process's
own nice ranks it only within its session. Every child `caredrip run` starts has its own session
(`worker.processes`), so the only lever over how the CPUs are shared between the API, the worker
and beat while they import is each session's autogroup nice, which its owner may set (raising it,
or bringing it back to 0, needs no privilege; below 0 needs CAP_SYS_NICE and is never asked here).

Best effort: without autogroups, on another OS, or when the kernel refuses (without CAP_SYS_ADMIN
it takes at most one change every 100 ms machine-wide: EAGAIN, retried a few times), nothing
changes and the caller carries on.
"""

from __future__ import annotations

import errno
import time
from pathlib import Path

PROC = Path("/proc")
RETRIES = 5
RETRY_INTERVAL = 0.11  # seconds: the kernel's limit is one change every HZ/10


def nice(pid: int, proc: Path = PROC) -> int | None:
    """The autogroup nice of `pid`'s session; None when it cannot be read: no autogroups, no such
    process, or the boot session (init's, e.g. a container's), whose file the kernel leaves empty."""
    try:
        text = (proc / str(pid) / "autogroup").read_text()  # "/autogroup-123 nice 0\n"
        return int(text.split()[-1])
    except (OSError, ValueError, IndexError):
        return None


def set_nice(pid: int, value: int, proc: Path = PROC) -> bool:
    """Set the autogroup nice of `pid`'s session (0..19); whether the kernel took it."""
    if not 0 <= value <= 19:
        raise ValueError(f"autogroup nice {value} outside 0..19")
    for attempt in range(RETRIES):
        try:
            (proc / str(pid) / "autogroup").write_text(f"{value}\n")
            return True
        except OSError as exc:
            if exc.errno != errno.EAGAIN or attempt == RETRIES - 1:
                return False
            time.sleep(RETRY_INTERVAL)
    return False
