"""Where the keyring comes from: the setting, or on a laptop a value generated once under var/keys/.

Production requires the setting. Elsewhere the first process to start writes a fresh value to
`var/keys/<SETTING>` (directory 0700, file 0600), and every later one, on this machine, reads it.
Creation is atomic: the value goes to a private temporary file, which is then hard-linked to its
name; a link fails if the name exists, so of two processes starting at once one wins, and the other
reads the winner's complete file. Processes that do not share var/ (containers) need the setting.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from worker.errors import ConfigError
from worker.phi.keyring import Keyring
from worker.phi.setting import SETTING

KEYS_DIR = "keys"


def load_or_create_keyring(var_dir: Path, configured: str | None, env: str) -> Keyring:
    """The keyring of CAREDRIP_DATA_KEYS if set; else (not in production) the one kept under var_dir."""
    raw, source = load_or_create_setting(var_dir, SETTING, configured, env, lambda: Keyring.generate().to_setting())
    try:
        return Keyring.from_setting(raw)
    except ValueError as exc:
        raise ConfigError(f"{exc}{source}") from None


def load_or_create_setting(
    var_dir: Path, name: str, configured: str | None, env: str, generate: Callable[[], str]
) -> tuple[str, str]:
    """(value, where it came from: "" for the setting, " (in <file>)" for the file); ConfigError naming `name`."""
    if configured and configured.strip():
        return configured.strip(), ""
    if env == "production":
        raise ConfigError(f"{name}: required in production")
    path = var_dir / KEYS_DIR / name
    try:
        _private_dir(path.parent)
        value = path.read_text("ascii").strip() if path.exists() else create_once(path, generate())
        _tighten(path, 0o600)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{name}: cannot keep it in {path}: {exc}") from None
    if not value:
        raise ConfigError(f"{name}: {path} is empty; remove it to generate a new one")
    return value, f" (in {path})"


def create_once(path: Path, value: str) -> str:
    """Write `value` to `path` (mode 0600) unless it exists; the value `path` holds afterwards."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            os.fchmod(out.fileno(), 0o600)
            out.write(value + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.link(tmp, path)
    except FileExistsError:
        return path.read_text("ascii").strip()
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(path.parent)
    return value


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(path, 0o700)


def _tighten(path: Path, mode: int) -> None:
    """Give `path` exactly `mode` if it is looser (made under another umask, or copied)."""
    if path.stat().st_mode & 0o777 != mode:
        path.chmod(mode)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
