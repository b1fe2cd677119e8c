"""The installation secret (derived enrollment ids, unsubscribe tokens, the blind-index key):
CAREDRIP_SECRET_KEY, or on a laptop a value generated once and kept in `var/keys/CAREDRIP_SECRET_KEY`
(0600, in a 0700 directory) beside the PHI keyring, created the same race-safe way
(`worker.phi.keyfile`: of processes starting at once, one file wins and all read it). Production
requires the setting; processes that do not share var/ (containers on several hosts) need it too.

Installations from before kept the generated secret in Redis (`cd:secret`). The first process that
finds no file copies that value into it, then deletes the key, so ids and tokens stay what they
were and the secret leaves Redis (and every later AOF rewrite, RDB and backup). The file exists
before the key goes: a process that starts meanwhile and finds neither loses to that file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from worker.phi.keyfile import load_or_create_setting
from worker.tokens import new_secret

SETTING = "CAREDRIP_SECRET_KEY"


class LegacySecret(Protocol):
    """Where an older installation kept its secret (the store)."""

    def legacy_secret(self) -> str | None: ...

    def drop_legacy_secret(self) -> None: ...


def load_or_create_secret(var_dir: Path, configured: str | None, env: str, legacy: LegacySecret) -> str:
    """The setting if given; else the value under var_dir/keys/, made once (from `cd:secret` if an
    older installation left one, which is then deleted). ConfigError naming the setting."""
    moved: list[str] = []

    def generate() -> str:
        found = legacy.legacy_secret()
        if found:
            moved.append(found)
            return found
        return new_secret()

    value, _ = load_or_create_setting(var_dir, SETTING, configured, env, generate)
    if moved and moved[0] == value:
        legacy.drop_legacy_secret()
    return value
