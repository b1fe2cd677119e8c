"""Real worker processes: SIGKILL in the middle of a batch, a Redis restart, a shared rate limit."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.celery_worker import subprocess_worker
from tests.support.engine import make_deps, new_enrollment, outbox_lines, run_until_idle
from tests.support.processes import celery_broker, enroll_due_now, worker_env
from tests.support.redis_fixture import wait_until
from tests.support.twilio_standin import TwilioStandIn
from worker import tasks
from worker.celery_app import app
from worker.clock import SystemClock
from worker.delivery.dispatch import dispatch_once
from worker.delivery.types import DeliveryDeps
from worker.enrollment import enroll
from worker.records import MessageState
from worker.redis_server import RedisServer
from worker.store import UNKNOWN_INDEX
from worker.store.keys import due_key


@pytest.fixture
def live_deps(redis_url: str, tmp_path: Path) -> Iterator[DeliveryDeps]:
    with celery_broker(app, redis_url):
        yield make_deps(redis_url, tmp_path / "outbox.jsonl", clock=SystemClock(), lease_seconds=3)


def _dispatch_until(deps: DeliveryDeps, done: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dispatch_once(deps, tasks.enqueue_send)
        if done():  # type: ignore[operator]
            return
        time.sleep(0.2)  # waiting on real worker processes, not on the clock
    raise AssertionError("not done in time")


def test_sigkill_mid_batch_sends_each_message_at_most_once(
    live_deps: DeliveryDeps, redis_url: str, tmp_path: Path
) -> None:
    token = "kill-test-token"
    with TwilioStandIn(auth_token=token, latency_seconds=0.05) as standin:
        env = worker_env(
            redis_url,
            tmp_path,
            SMS_CHANNEL="twilio",
            TWILIO_ACCOUNT_SID="AC" + "1" * 32,
            TWILIO_AUTH_TOKEN=token,
            TWILIO_FROM_NUMBER="+15005550006",
            TWILIO_API_BASE_URL=standin.base_url,
            SMS_RATE_PER_SECOND="100000",
        )
        eids = enroll_due_now(live_deps, 200)
        store = live_deps.engine.store
        with subprocess_worker("worker.celery_app", redis_url, env, concurrency=2, queues="send") as first:
            dispatch_once(live_deps, tasks.enqueue_send)
            wait_until(lambda: len(standin.requests) >= 40, timeout=30)
            first.kill()
        assert len(standin.requests) < 200, "the kill came too late to interrupt a batch"
        with subprocess_worker("worker.celery_app", redis_url, env, concurrency=2, queues="send"):

            def all_final() -> bool:
                states = [r.state for e in eids for r in store.records(e)]
                waiting = {MessageState.SENDING, MessageState.QUEUED, MessageState.RETRYING}  # a batch
                return len(states) == 200 and not waiting & set(states)  # past its deadline puts back

            _dispatch_until(live_deps, all_final, timeout=120)
        # A request cut short by the kill reaches the stand-in truncated: only whole ones count.
        whole = [r for r in standin.requests if "StatusCallback" in r]
        per_message = Counter(r["StatusCallback"].rsplit("?m=", 1)[1] for r in whole)
        assert max(per_message.values()) == 1, "a message was handed to the provider twice"
        states = Counter(r.state for e in eids for r in store.records(e))
        assert states[MessageState.SENT] + states[MessageState.UNKNOWN] == 200
        assert states[MessageState.SENT] >= len(per_message) - states[MessageState.UNKNOWN]
        assert len(store.indexed_messages(UNKNOWN_INDEX)) == states[MessageState.UNKNOWN]


def test_redis_restart_keeps_enrollments_and_schedule(fresh_redis_server: RedisServer, tmp_path: Path) -> None:
    deps = make_deps(fresh_redis_server.url, tmp_path / "outbox.jsonl")
    # 50 patients, 50 numbers: caps count per number (issue 13 item 3), one welcome SMS each.
    ids = [enroll(deps.engine, new_enrollment(f"r-{i}", phone=f"+1415555{i:04d}"))[0].id for i in range(50)]
    store = deps.engine.store
    before = (store.redis.zcard(due_key("sms")), store.redis.zcard(due_key("email")))
    fresh_redis_server.restart()
    deps = make_deps(fresh_redis_server.url, tmp_path / "outbox.jsonl", clock=deps.engine.clock)
    store = deps.engine.store
    assert (store.redis.zcard(due_key("sms")), store.redis.zcard(due_key("email"))) == before == (50, 50)
    assert all(store.get_enrollment(e) is not None for e in ids)
    run_until_idle(deps, until=deps.engine.clock.now())
    assert len(outbox_lines(tmp_path / "outbox.jsonl")) == 100  # welcome by SMS and email, after the restart


def test_two_workers_share_the_rate_limit(live_deps: DeliveryDeps, redis_url: str, tmp_path: Path) -> None:
    env = worker_env(redis_url, tmp_path, SMS_RATE_PER_SECOND="40")
    outbox = Path(env["CAREDRIP_VAR_DIR"]) / "outbox.jsonl"
    enroll_due_now(live_deps, 240)

    def four_batches(channel: str, ids: list[str]) -> None:
        for i in range(0, len(ids), 60):
            tasks.enqueue_send(channel, ids[i : i + 60])

    with (
        subprocess_worker("worker.celery_app", redis_url, env, concurrency=2, queues="send"),
        subprocess_worker("worker.celery_app", redis_url, env, concurrency=2, queues="send"),
    ):
        # 240 SMS at 40/s take 6 s: claimed with leases that outlast that (a batch sends nothing
        # past its lease's deadline, and nothing dispatches again here).
        dispatch_once(dataclasses.replace(live_deps, lease_seconds=30), four_batches)
        # complete lines only: a worker may be in the middle of appending one while this reads
        wait_until(lambda: outbox.exists() and outbox.read_bytes().count(b"\n") >= 240, timeout=90)
    stamps = sorted(datetime.fromisoformat(line["sent_at"]) for line in outbox_lines(outbox))
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0]).total_seconds()
    assert len(stamps) == 240
    assert abs(rate - 40) / 40 <= 0.10, f"measured {rate:.1f}/s against a limit of 40/s"
