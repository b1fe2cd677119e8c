"""Helpers for the operator-facing tests: the `caredrip` command run as a real subprocess.

Every test gets a fresh `CAREDRIP_VAR_DIR` (so its own embedded Redis), and at the end any
process still carrying that directory in its command line or environment is reported and
killed, and the embedded Redis is stopped: nothing outlives a test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from worker.phi import IndexKey, load_or_create_keyring
from worker.redis_server import ensure_embedded, stop_embedded
from worker.secret_file import load_or_create_secret
from worker.store import LegacySecret, Store

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CAREDRIP = str(VENV_BIN / "caredrip")
# Settings a developer's shell might carry that would change what these tests see.
_CLEARED = ("REDIS_URL", "SMS_CHANNEL", "EMAIL_CHANNEL", "CAREDRIP_TIME_SCALE", "CAREDRIP_QUIET_HOURS",
            "CAREDRIP_CAPS", "CAREDRIP_CONTENT_DIR", "CAREDRIP_TEMPLATES_DIR", "CAREDRIP_SECRET_KEY",
            "CAREDRIP_DATA_KEYS")  # fmt: skip


def cli_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a `caredrip` subprocess for this test's var dir."""
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    env.update(
        CAREDRIP_VAR_DIR=str(var_dir), CAREDRIP_ENV="development",
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}", PYTHONUNBUFFERED="1", **extra,
    )  # fmt: skip
    return env


def caredrip(env: dict[str, str], *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run `caredrip args…` to completion from the repository root."""
    return subprocess.run([CAREDRIP, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def processes_for(var_dir: Path) -> dict[int, str]:
    """pid -> command line of every live process whose command line or environment names `var_dir`."""
    needle = str(var_dir).encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if state != "Z" and (needle in cmdline or needle in environ):
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
    return found


def children_of(pid: int) -> set[int]:
    """Direct children of `pid`, from /proc."""
    kids: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
                if int(fields[1]) == pid:
                    kids.add(int(entry.name))
    return kids


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def kill_leftovers(var_dir: Path) -> dict[int, str]:
    """SIGKILL the process group of anything still tied to `var_dir`; what was found."""
    leftovers = processes_for(var_dir)
    for pid in leftovers:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return leftovers


@pytest.fixture
def var_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh var dir; afterwards its embedded Redis is stopped and nothing tied to it survives."""
    path = tmp_path / "var"
    path.mkdir()
    yield path
    with contextlib.suppress(Exception):
        stop_embedded(path)
        stop_embedded(path / "demo")
    leftovers = kill_leftovers(path)
    assert not leftovers, f"processes left behind: {leftovers}"


@pytest.fixture
def env(var_dir: Path) -> dict[str, str]:
    """The environment of a `caredrip` subprocess on this test's var dir."""
    return cli_env(var_dir)


def var_store(var_dir: Path, client: redis.Redis) -> Store:
    """A store with the keys the CLI finds for `var_dir`: its keyring and the secret (and so the
    blind-index key) under var/keys/."""
    keyring = load_or_create_keyring(var_dir, None, "development")
    secret = load_or_create_secret(var_dir, None, "development", LegacySecret(client)).encode()
    return Store(client, keyring, IndexKey.from_secret(secret))


@pytest.fixture
def store(var_dir: Path) -> Iterator[Store]:
    """A store on the var dir's embedded Redis: the same server the CLI subprocesses find."""
    client = redis.Redis.from_url(ensure_embedded(var_dir).url, decode_responses=True)
    yield var_store(var_dir, client)
    client.close()
