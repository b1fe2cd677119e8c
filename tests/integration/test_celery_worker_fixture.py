"""The worker fixtures drive real Celery workers: in a thread, as a subprocess, on chosen queues."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery
from celery.worker import state as worker_state

from tests.support.celery_sample_app import RECORD, SLOW_RECORD, make_app
from tests.support.celery_worker import in_process_worker, subprocess_worker
from tests.support.redis_fixture import process_gone, wait_for_items, wait_until
from worker.redis_server import RedisServer

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def sample_app(redis_server: RedisServer, redis_url: str) -> Iterator[Celery]:
    """The sample app on the (emptied) session server."""
    app = make_app(redis_server.broker_url)
    yield app
    app.close()


def test_in_process_worker_runs_a_task(sample_app: Celery, redis_url: str, redis_client: redis.Redis) -> None:
    with in_process_worker(sample_app):
        sample_app.send_task(RECORD, args=(redis_url, "effects", "hello"))
        [item] = wait_for_items(redis_client, "effects", 1)
    assert item == f"hello:{os.getpid()}"  # a thread of this process ran it


def test_in_process_worker_consumes_only_the_chosen_queues(
    sample_app: Celery, redis_url: str, redis_client: redis.Redis
) -> None:
    sample_app.send_task(RECORD, args=(redis_url, "effects", "intake"), queue="intake")
    sample_app.send_task(RECORD, args=(redis_url, "effects", "send"), queue="send")
    with in_process_worker(sample_app, queues=["send"]) as worker:
        assert set(worker.app.amqp.queues.consume_from) == {"send"}
        assert [i.split(":")[0] for i in wait_for_items(redis_client, "effects", 1)] == ["send"]
    assert redis_client.llen("intake") == 1  # still waiting in the broker
    assert sample_app.amqp.queues._consume_from is None  # the selection was undone
    with in_process_worker(sample_app, queues=["intake"]):
        items = wait_for_items(redis_client, "effects", 2)
    assert [i.split(":")[0] for i in items] == ["send", "intake"]


def test_a_task_overrunning_shutdown_does_not_hang_the_next_worker(
    sample_app: Celery, redis_url: str, redis_client: redis.Redis
) -> None:
    overrun = in_process_worker(sample_app, pool="solo", concurrency=1, shutdown_timeout=0.2)
    with pytest.warns(UserWarning, match="outlived"), overrun:
        sample_app.send_task(SLOW_RECORD, args=(redis_url, "effects", "slow", 1.0))
        wait_for_items(redis_client, "effects:started", 1)
    assert worker_state.should_terminate is None
    first: bytes = redis_client.lrange("effects", 0, -1)[0]  # type: ignore[assignment]
    assert first.startswith(b"slow:")  # the thread was joined
    with in_process_worker(sample_app):
        sample_app.send_task(RECORD, args=(redis_url, "effects", "after"))
        items = wait_for_items(redis_client, "effects", 2)
    assert items[1].startswith("after:")


def test_in_process_worker_over_a_unix_socket(tmp_path: Path) -> None:
    with RedisServer(tmp_path / "unix") as server:
        app = make_app(server.broker_url)
        client = redis.Redis.from_url(server.url)
        with in_process_worker(app, pool="solo", concurrency=1):
            app.send_task(RECORD, args=(server.url, "effects", "socket"))
            [item] = wait_for_items(client, "effects", 1)
        assert item.startswith("socket:")
        client.close()
        app.close()


def test_subprocess_worker_runs_tasks_in_prefork_children(
    sample_app: Celery, redis_server: RedisServer, redis_url: str, redis_client: redis.Redis
) -> None:
    env = {"SAMPLE_BROKER_URL": redis_server.broker_url, "REDIS_URL": redis_url}
    with subprocess_worker("tests.support.celery_sample_app", redis_server.broker_url, env) as worker:
        for queue in ("intake", "dispatch", "send"):
            sample_app.send_task(RECORD, args=(redis_url, "effects", queue), queue=queue)
        items = wait_for_items(redis_client, "effects", 3)
        assert sorted(i.split(":")[0] for i in items) == ["dispatch", "intake", "send"]
        pids = {int(i.split(":")[1]) for i in items}
        assert worker.pid not in pids and os.getpid() not in pids  # prefork children ran them
        worker.stop()
        assert not worker.alive()
        assert worker.process.returncode == 0  # a warm shutdown, not a kill


def test_subprocess_worker_kill_takes_the_whole_group(
    sample_app: Celery, redis_server: RedisServer, redis_url: str, redis_client: redis.Redis
) -> None:
    env = {"SAMPLE_BROKER_URL": redis_server.broker_url}
    with subprocess_worker("tests.support.celery_sample_app", redis_server.broker_url, env, queues="send") as worker:
        sample_app.send_task(RECORD, args=(redis_url, "effects", "before"), queue="send")
        [item] = wait_for_items(redis_client, "effects", 1)
        child = int(item.split(":")[1])
        worker.kill()
        assert worker.process.returncode == -9
        wait_until(lambda: process_gone(child))
