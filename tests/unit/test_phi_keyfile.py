"""Laptop keys: the setting wins, production requires it, else one 0600 file made once, even in a race."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

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


def _start(var: str, barrier: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue[str]) -> None:
    barrier.wait()
    out.put(load_or_create_keyring(Path(var), None, "development").to_setting())


def test_processes_starting_at_once_agree(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    count = 4
    for round_ in range(3):
        var = tmp_path / f"var{round_}"
        barrier, out = ctx.Barrier(count), ctx.Queue()
        procs = [ctx.Process(target=_start, args=(str(var), barrier, out)) for _ in range(count)]
        for proc in procs:
            proc.start()
        settings = [out.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join(timeout=60)
            assert proc.exitcode == 0
        assert len(set(settings)) == 1
        assert (var / KEYFILE).read_text() == settings[0] + "\n"
        assert [p.name for p in (var / "keys").iterdir()] == ["CAREDRIP_DATA_KEYS"]
        assert _mode(var / KEYFILE) == 0o600
