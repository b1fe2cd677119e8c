"""The var directory (`CAREDRIP_VAR_DIR`, default `var/`): its directories, created before anything
writes there and private to this user (0700 whatever the umask), and its lock files.

var/ holds the embedded Redis's data, the outbox (patient contact details in development), beat's
schedule, the children's logs and `caredrip run`'s lock and pid file. A directory that already
exists keeps its mode: it may be one the operator chose and set up on purpose. Locks are `flock`s,
so the kernel releases them when their holder dies, however it dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from worker.errors import CaredripError

PRIVATE = 0o700
POLL_INTERVAL = 0.01


class LockHeld(CaredripError):
    """Raised when a lock file under var/ is still held by another process after the wait allowed."""


def private_dir(path: Path) -> Path:
    """`path` as an absolute directory, created with mode 0700 (and any missing parents) if absent."""
    path = Path(path).absolute()
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=PRIVATE, exist_ok=True)
        path.chmod(PRIVATE)  # mkdir's mode passes through the umask; a 0277 umask would leave 0500
    return path


@contextlib.contextmanager
def exclusive(lock_path: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive flock on `lock_path` for the block, waiting at most `timeout` seconds for it."""
    with open(lock_path, "a+b") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockHeld(f"{lock_path} still locked after {timeout}s") from None
                time.sleep(POLL_INTERVAL)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` so that readers never see half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
