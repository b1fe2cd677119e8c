"""Celery messages and logs carry ids, never PHI: a real worker process sends a few patients'
messages over a private Redis while the test reads every broker key's bytes (queued, taken and
not yet acknowledged), the task events on the broker's pub/sub, and the worker's JSON log.

Only the `intake` queue is left out: it is where clinic systems publish enrollment events, which
carry a patient's details by design (their arguments are redacted in events and logs:
tests/integration/test_intake_events.py).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from kombu.connection import Connection

from tests.support.celery_worker import subprocess_worker
from tests.support.engine import DATA_KEYS, make_deps, new_enrollment
from tests.support.processes import awake_timezone, celery_broker, worker_env
from tests.support.redis_fixture import wait_until
from worker import tasks
from worker.celery_app import app
from worker.clock import SystemClock
from worker.delivery.dispatch import dispatch_once
from worker.delivery.types import DeliveryDeps
from worker.enrollment import enroll
from worker.records import MessageState

pytestmark = pytest.mark.timeout(120)

# Distinctive values, so that a hit can only be a leak. (name, E.164 number, email)
PATIENTS = [
    ("Zebulon", "+14155550183", "zebulon.quartermaine@example.com"),
    ("Philippa", "+13125550247", "philippa.vandersloot@example.org"),
    ("Ignatius", "+12065550391", "ignatius.okonkwo@example.net"),
]
STORE_PREFIX = b"cd:"  # caredrip's own keys (sealed at rest: helper `seal`), not the broker's
INTAKE = b"intake"


def phi_needles() -> list[bytes]:
    """Every form a patient's details could take in bytes: names, numbers (E.164, digits only,
    national, formatted), emails and their local part."""
    needles: list[str] = []
    for name, phone, email in PATIENTS:
        national = phone[2:]
        needles += [name, name.lower(), phone, phone[1:], national, f"({national[:3]}) {national[3:6]}-{national[6:]}"]
        needles += [f"{national[:3]}-{national[3:6]}-{national[6:]}", email, email.split("@")[0]]
    return [n.encode() for n in needles]


def leaks(blob: bytes) -> list[bytes]:
    return [n for n in phi_needles() if n in blob]


def broker_bytes(client: redis.Redis) -> dict[bytes, bytes]:
    """What every key that is neither caredrip's store nor the intake queue holds, read whole
    (DUMP would compress it), with the base64 message bodies kombu keeps decoded beside it."""
    return {
        key: unwrap(b"\n".join(_contents(client, key)))
        for key in client.scan_iter(count=1000)
        if not key.startswith(STORE_PREFIX) and not key.startswith(INTAKE)
    }


def _contents(client: redis.Redis, key: bytes) -> list[bytes]:
    kind = client.type(key)
    raw: list[Any]
    if kind == b"list":
        raw = list(client.lrange(key, 0, -1))
    elif kind == b"hash":
        raw = [part for pair in client.hgetall(key).items() for part in pair]
    elif kind == b"set":
        raw = list(client.smembers(key))
    elif kind == b"zset":
        raw = list(client.zrange(key, 0, -1))
    else:
        raw = [client.get(key) if kind == b"string" else client.dump(key)]
    return [v if isinstance(v, bytes) else str(v or "").encode() for v in raw]


def unwrap(blob: bytes) -> bytes:
    """`blob` followed by the decoding of every base64 string in the JSON it holds (kombu keeps a
    task's body, its arguments, in base64 inside a JSON envelope), recursively."""
    found = [blob]
    for line in blob.split(b"\n"):
        with contextlib.suppress(ValueError):
            found += [unwrap(decoded) for decoded in _base64_strings(json.loads(line))]
    return b"\n".join(found)


def _base64_strings(value: object) -> Iterator[bytes]:
    if isinstance(value, str) and len(value) >= 8:
        with contextlib.suppress(binascii.Error, ValueError):
            yield base64.b64decode(value, validate=True)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _base64_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _base64_strings(item)


@contextlib.contextmanager
def pubsub_tap(url: str) -> Iterator[list[bytes]]:
    """Every pub/sub message (Celery's task events go this way) published while the block runs."""
    client = redis.Redis.from_url(url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    pubsub.psubscribe("*")
    seen: list[bytes] = []
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            message = pubsub.get_message(timeout=0.1)
            if message is not None:
                seen.append(bytes(message["data"]))

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(5)
        pubsub.close()
        client.close()


@pytest.fixture
def deps(redis_url: str, tmp_path: Path) -> Iterator[DeliveryDeps]:
    with celery_broker(app, redis_url):
        yield make_deps(redis_url, tmp_path / "outbox.jsonl", clock=SystemClock())


def _sent(deps: DeliveryDeps, eids: list[str]) -> bool:
    records = [r for eid in eids for r in deps.engine.store.records(eid)]
    return len(records) >= 2 * len(eids) and all(r.state is MessageState.SENT for r in records)


def test_broker_lists_events_and_logs_carry_no_phi(deps: DeliveryDeps, redis_url: str, tmp_path: Path) -> None:
    zone = awake_timezone()
    eids = [
        enroll(deps.engine, new_enrollment(f"phi-{i}", first_name=name, phone=phone, email=email, timezone=zone))[0].id
        for i, (name, phone, email) in enumerate(PATIENTS)
    ]
    client = redis.Redis.from_url(redis_url)
    with pubsub_tap(redis_url) as events:
        # Queued: the welcome messages claimed and their send tasks waiting, a dispatch tick too.
        assert dispatch_once(deps, tasks.enqueue_send) > 0
        tasks.dispatch.apply_async(queue="dispatch")
        queued = broker_bytes(client)
        assert client.llen("send") >= 2 and client.llen("dispatch") == 1
        assert not {k: leaks(v) for k, v in queued.items() if leaks(v)}
        # Taken, not yet acknowledged: what a worker holds mid-task sits in kombu's `unacked` hash.
        with Connection(redis_url) as connection:  # type: ignore[no-untyped-call]
            taken = connection.default_channel.basic_get("send", no_ack=False)
            assert taken is not None
            held = broker_bytes(client)
            assert client.hlen("unacked") == 1
            assert not {k: leaks(v) for k, v in held.items() if leaks(v)}
            taken.requeue()
        # A real worker sends them all, logging JSON lines as in production.
        env = worker_env(redis_url, tmp_path, CAREDRIP_DATA_KEYS=DATA_KEYS)
        with subprocess_worker("worker.celery_app", redis_url, env, pool="threads", queues="dispatch,send") as worker:
            wait_until(lambda: _sent(deps, eids), timeout=60, interval=0.1)
            after = broker_bytes(client)
            log = worker.log_path.read_bytes()
    client.close()
    assert not {k: leaks(v) for k, v in after.items() if leaks(v)}
    assert events, "the worker's task events went over pub/sub"
    assert not [e for e in events if leaks(unwrap(e))]
    lines = [json.loads(line) for line in log.splitlines() if line.startswith(b"{")]
    sent = [line for line in lines if line.get("outcome") == "sent"]
    assert {line["enrollment_id"] for line in sent} == set(eids), "the log says what happened, by id"
    assert not leaks(log), log.decode(errors="replace")[-2000:]
