"""A Redis that keeps sealed values out of compact hashes is pointed out once at start, in the JSON
log; a server that refuses CONFIG GET (managed Redis) is not."""

from __future__ import annotations

import json
import secrets
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient

from tests.support.engine import INDEX, KEYRING, make_deps
from worker import redis_tuning
from worker.api import create_app
from worker.redis_process import HASH_MAX_VALUE
from worker.store import Store

SETTING = "hash-max-ziplist-value"  # both names answer on Redis 7; Redis 6.2 knows only this one


class Recorder:
    """Stands in for the structlog logger: what was logged, as (level, event, fields)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.lines.append(("warning", event, fields))


@pytest.fixture
def limit(redis_client: redis.Redis) -> Iterator[redis.Redis]:
    """The session server, its hash limit put back after the test."""
    before = str(redis_client.config_get(SETTING)[SETTING])
    redis_tuning.reset()
    yield redis_client
    redis_client.config_set(SETTING, before)
    redis_tuning.reset()


def _store(url: str, **kwargs: Any) -> Store:
    return Store(redis.Redis.from_url(url, decode_responses=True, **kwargs), KEYRING, INDEX)


def test_the_test_servers_start_with_the_limit_caredrip_needs(limit: redis.Redis, redis_url: str) -> None:
    assert _store(redis_url).hash_value_limit() == HASH_MAX_VALUE == 256
    log = Recorder()
    assert not redis_tuning.warn_once(_store(redis_url), log)
    assert log.lines == []


def test_a_low_limit_is_warned_about_once(limit: redis.Redis, redis_url: str) -> None:
    limit.config_set(SETTING, 64)
    log = Recorder()
    assert redis_tuning.warn_once(_store(redis_url), log)
    assert not redis_tuning.warn_once(_store(redis_url), log)
    assert len(log.lines) == 1
    level, event, fields = log.lines[0]
    assert (level, event, fields["value"], fields["wanted"]) == ("warning", "redis_hash_limit_low", 64, 256)
    assert "hash-max-listpack-value 256" in fields["fix"]


def test_a_server_refusing_config_get_is_not_warned_about(limit: redis.Redis, redis_url: str) -> None:
    limit.config_set(SETTING, 64)
    password = secrets.token_hex(8)
    limit.acl_setuser(
        "caredrip-app", enabled=True, passwords=[f"+{password}"], keys=["*"], commands=["+@all", "-config"]
    )
    try:
        store = _store(redis_url, username="caredrip-app", password=password)
        assert store.ping()
        assert store.hash_value_limit() is None
        log = Recorder()
        assert not redis_tuning.warn_once(store, log)
        assert log.lines == []
    finally:
        limit.acl_deluser("caredrip-app")


def test_the_api_warns_at_start_in_its_json_log(
    limit: redis.Redis, redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    limit.config_set(SETTING, 128)
    app = create_app(make_deps(redis_url, tmp_path / "outbox.jsonl").engine)
    with TestClient(app):
        pass
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    warned = [line for line in lines if line.get("event") == "redis_hash_limit_low"]
    assert [(w["level"], w["value"]) for w in warned] == [("warning", 128)]
