"""The var directory (`CAREDRIP_VAR_DIR`, default `var/`): its directories, created before anything
writes there and private to this user (0700 whatever the umask), and its lock files.

var/ holds the embedded Redis's data, the outbox (patient contact details in development), beat's
schedule, the children's logs, `caredrip run`'s lock and pid file, and the keys under `keys/`.
Everything caredrip creates there is private: directories 0700, files 0600, written with explicit
modes, and caredrip's own processes (`caredrip`, the API, Celery worker and beat, and the children
they start) run under umask 077 (`use_private_umask`) so that files written by libraries (beat's
schedule, redis-server's AOF and log) are private too. A directory that already exists keeps its
mode: it may be one the operator chose and set up on purpose. Locks are `flock`s, so the kernel
releases them when their holder dies, however it dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from worker.errors import CaredripError

PRIVATE = 0o700
PRIVATE_FILE = 0o600
PRIVATE_UMASK = 0o077
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


def use_private_umask() -> None:
    """Make every file and directory this process (and what it starts) creates private to its user."""
    os.umask(PRIVATE_UMASK)


def tighten(paths: Iterable[Path]) -> None:
    """Make what an older caredrip left looser private: each of `paths` that exists and is this
    user's (directories 0700 with everything in them, files 0600). Sockets and links are left alone."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            info = path.lstat()
            mode = info.st_mode
            if info.st_uid != os.getuid():
                continue
            if stat.S_ISDIR(mode):
                _chmod_if_looser(path, mode, PRIVATE)
                tighten(path.iterdir())
            elif stat.S_ISREG(mode):
                _chmod_if_looser(path, mode, PRIVATE_FILE)


def _chmod_if_looser(path: Path, mode: int, wanted: int) -> None:
    if stat.S_IMODE(mode) & ~wanted:
        path.chmod(wanted)


def open_private(path: Path, flags: int) -> int:
    """`os.open(path, flags | O_CREAT)` with mode 0600 for a file it creates (whatever the umask)."""
    return os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)


@contextlib.contextmanager
def exclusive(lock_path: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive flock on `lock_path` for the block, waiting at most `timeout` seconds for it."""
    with open(open_private(lock_path, os.O_RDWR), "r+b") as handle:
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
    with open(open_private(temporary, os.O_WRONLY | os.O_TRUNC), "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), PRIVATE_FILE)  # a temporary file left by a crash may be looser
        out.write(text)
    os.replace(temporary, path)
