"""Laptop keys: the setting wins, production requires it, else one 0600 file made once, even in a race."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from subprocess import PIPE

import pytest

from worker.errors import ConfigError
from worker.phi import Keyring, load_or_create_keyring
from worker.phi.keyfile import create_once

KEYFILE = Path("keys") / "CAREDRIP_DATA_KEYS"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_configured_setting_wins_and_writes_nothing(tmp_path: Path) -> None:
    ring = Keyring.generate()
    for env in ("production", "development", "test"):
        assert load_or_create_keyring(tmp_path, f" {ring.to_setting()} ", env).keys == ring.keys
    assert not (tmp_path / "keys").exists()


@pytest.mark.parametrize("configured", [None, "", "  "])
def test_production_requires_the_setting(tmp_path: Path, configured: str | None) -> None:
    with pytest.raises(ConfigError, match=r"^CAREDRIP_DATA_KEYS: required in production$"):
        load_or_create_keyring(tmp_path, configured, "production")
    assert not (tmp_path / "keys").exists()


def test_malformed_setting_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^CAREDRIP_DATA_KEYS: key 2 is empty$"):
        load_or_create_keyring(tmp_path, Keyring.generate().to_setting() + ",", "development")


def test_laptop_generates_once_in_private_files(tmp_path: Path) -> None:
    var = tmp_path / "var"
    first = load_or_create_keyring(var, None, "development")
    assert load_or_create_keyring(var, None, "test").keys == first.keys
    assert _mode(var / KEYFILE) == 0o600 and _mode(var / "keys") == 0o700
    assert (var / KEYFILE).read_text() == first.to_setting() + "\n"
    assert [p.name for p in (var / "keys").iterdir()] == ["CAREDRIP_DATA_KEYS"]


def test_loose_modes_are_tightened(tmp_path: Path) -> None:
    first = load_or_create_keyring(tmp_path, None, "development")
    (tmp_path / KEYFILE).chmod(0o644)
    (tmp_path / "keys").chmod(0o755)
    assert load_or_create_keyring(tmp_path, None, "development").keys == first.keys
    assert _mode(tmp_path / KEYFILE) == 0o600 and _mode(tmp_path / "keys") == 0o700


def test_a_broken_file_names_setting_and_file(tmp_path: Path) -> None:
    load_or_create_keyring(tmp_path, None, "development")
    (tmp_path / KEYFILE).write_text("garbage\n")
    with pytest.raises(ConfigError, match=r"^CAREDRIP_DATA_KEYS: key 1 is not urlsafe .* \(in .*CAREDRIP_DATA_KEYS\)$"):
        load_or_create_keyring(tmp_path, None, "development")
    (tmp_path / KEYFILE).write_text("\n")
    with pytest.raises(ConfigError, match="is empty; remove it to generate a new one"):
        load_or_create_keyring(tmp_path, None, "development")


def test_the_loser_of_a_race_reads_the_winner(tmp_path: Path) -> None:
    path = tmp_path / "value"
    assert create_once(path, "winner") == "winner"
    assert create_once(path, "loser") == "winner"
    assert [p.name for p in tmp_path.iterdir()] == ["value"]
    assert _mode(path) == 0o600


# Each racer imports, says "ready", waits for "go" on stdin, then loads: once all are ready the
# parent says "go" to each in turn, so they reach the key file within a millisecond or so.
RACER = """
import sys
from pathlib import Path
from worker.phi.keyfile import load_or_create_keyring
print("ready", flush=True)
sys.stdin.readline()
print(load_or_create_keyring(Path(sys.argv[1]), None, "development").to_setting(), flush=True)
"""


def test_processes_starting_at_once_agree(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for round_ in range(3):
        var = tmp_path / f"var{round_}"
        racers = [
            subprocess.Popen([sys.executable, "-c", RACER, str(var)], stdin=PIPE, stdout=PIPE, text=True, env=env)
            for _ in range(4)
        ]
        assert all(r.stdout is not None and r.stdout.readline() == "ready\n" for r in racers)
        for racer in racers:
            assert racer.stdin is not None
            racer.stdin.write("go\n")
            racer.stdin.flush()
        settings = {racer.communicate(timeout=60)[0].strip() for racer in racers}
        assert all(racer.returncode == 0 for racer in racers)
        assert len(settings) == 1
        assert (var / KEYFILE).read_text() == settings.pop() + "\n"
        assert [p.name for p in (var / "keys").iterdir()] == ["CAREDRIP_DATA_KEYS"]
        assert _mode(var / KEYFILE) == 0o600
