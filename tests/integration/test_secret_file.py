"""The installation secret lives in var/keys/ (0600), not in Redis: generated once, moved out of
Redis once for an older installation (the same value, so ids and tokens stay), agreed on by
processes starting together, required in production."""

from __future__ import annotations

import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from worker.errors import ConfigError
from worker.secret_file import SETTING, load_or_create_secret
from worker.store import LegacySecret
from worker.tokens import enrollment_id

LEGACY = "cd:secret"
OLD_SECRET = "9f" * 32  # what an older installation generated (token_hex(32)) and kept in Redis


@pytest.fixture
def store(redis_url: str) -> Iterator[LegacySecret]:
    """Where the secret of an older installation is read and dropped, as wiring.secret() does."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield LegacySecret(client)
    client.close()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generated_once_into_a_private_file_and_never_into_redis(
    tmp_path: Path, store: LegacySecret, redis_client: redis.Redis
) -> None:
    var_dir = tmp_path / "var"
    first = load_or_create_secret(var_dir, None, "development", store)
    path = var_dir / "keys" / SETTING
    assert path.read_text().strip() == first and len(first) >= 32
    assert (_mode(path), _mode(path.parent)) == (0o600, 0o700)
    assert load_or_create_secret(var_dir, None, "development", store) == first
    assert redis_client.dbsize() == 0


def test_an_older_installations_secret_moves_out_of_redis_unchanged(
    tmp_path: Path, store: LegacySecret, redis_client: redis.Redis
) -> None:
    redis_client.set(LEGACY, OLD_SECRET)
    before = enrollment_id(OLD_SECRET.encode(), "c_1", "MRN-1", "twitching")
    moved = load_or_create_secret(tmp_path / "var", None, "development", store)
    assert moved == OLD_SECRET
    assert enrollment_id(moved.encode(), "c_1", "MRN-1", "twitching") == before
    assert redis_client.exists(LEGACY) == 0
    assert (tmp_path / "var" / "keys" / SETTING).read_text().strip() == OLD_SECRET
    assert load_or_create_secret(tmp_path / "var", None, "development", store) == OLD_SECRET


@pytest.mark.parametrize("legacy", [None, OLD_SECRET])
def test_processes_starting_together_agree(
    tmp_path: Path, store: LegacySecret, redis_client: redis.Redis, legacy: str | None
) -> None:
    if legacy is not None:
        redis_client.set(LEGACY, legacy)
    barrier = threading.Barrier(8)
    seen: list[str] = []

    def start() -> None:
        barrier.wait()
        seen.append(load_or_create_secret(tmp_path / "var", None, "development", store))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(seen) == 8 and len(set(seen)) == 1
    assert legacy is None or seen[0] == legacy
    assert redis_client.exists(LEGACY) == 0
    assert [p.name for p in (tmp_path / "var" / "keys").iterdir()] == [SETTING]  # no temporary file left


def test_a_configured_secret_wins_and_nothing_is_written(
    tmp_path: Path, store: LegacySecret, redis_client: redis.Redis
) -> None:
    redis_client.set(LEGACY, OLD_SECRET)
    configured = "Jd8s0-Qx3LrT9vYk2WnBz7HcP4uMe6Fa"
    assert load_or_create_secret(tmp_path / "var", configured, "production", store) == configured
    assert not (tmp_path / "var").exists()
    assert redis_client.get(LEGACY) == OLD_SECRET.encode()  # not ours to move: the setting decides


def test_production_requires_the_setting(tmp_path: Path, store: LegacySecret, redis_client: redis.Redis) -> None:
    redis_client.set(LEGACY, OLD_SECRET)
    with pytest.raises(ConfigError, match=rf"^{SETTING}: required in production"):
        load_or_create_secret(tmp_path / "var", None, "production", store)
    assert not (tmp_path / "var").exists()
    assert redis_client.get(LEGACY) == OLD_SECRET.encode()
