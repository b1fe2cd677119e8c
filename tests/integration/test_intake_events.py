"""`caredrip.enroll` carries PHI: a real worker's task events (what Flower shows), its `inspect`
answers and the message on the broker carry the clinic id and never the enrollment body."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from kombu.message import Message

from tests.support.celery_worker import in_process_worker
from tests.support.engine import make_deps
from tests.support.processes import celery_broker
from tests.support.redis_fixture import wait_until
from worker import tasks, wiring
from worker.celery_app import app

CLINIC_ID = "c_riverside"
BODY = {
    "patient_ref": "MRN-7781",
    "program": "twitching",
    "first_name": "Philippa",
    "phone": "+14155552671",
    "email": "philippa.q@example.com",
    "channels": ["sms", "email"],
    "language": "en",
    "timezone": "America/New_York",
    "consent": {"sms": True, "email": True, "recorded_at": "2026-03-01T14:00:00Z"},
}
PHI = ("Philippa", "4155552671", "philippa.q@example.com", "MRN-7781")


def leaks(value: Any) -> list[str]:
    text = json.dumps(value, default=str)
    return [marker for marker in PHI if marker in text]


class EventTap:
    """A real Celery event receiver on the test broker, in a thread, keeping every event."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._receiver: Any = None

    def run(self) -> None:
        with app.connection_for_read() as connection:
            self._receiver = app.events.Receiver(connection, handlers={"*": self.events.append})
            self._receiver.capture(limit=None, timeout=None, wakeup=False)

    def of(self, task_id: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("uuid") == task_id]

    def stop(self) -> None:
        if self._receiver is not None:
            self._receiver.should_stop = True


@pytest.fixture
def tap(redis_url: str, tmp_path: Path) -> Iterator[EventTap]:
    deps = make_deps(redis_url, tmp_path / "outbox.jsonl")
    wiring.reset()
    wiring.override(delivery=deps, engine=deps.engine)
    with celery_broker(app, redis_url), listening() as tap:
        yield tap
    wiring.reset()


@contextlib.contextmanager
def listening() -> Iterator[EventTap]:
    """An EventTap on the app's broker, subscribed (it saw an event of our own) before it is given."""
    tap = EventTap()
    thread = threading.Thread(target=tap.run, daemon=True)
    thread.start()
    try:
        # Subscribed once an event of our own comes back (events are fan-out: none is kept).
        with app.events.default_dispatcher() as dispatcher:
            deadline = time.monotonic() + 10
            while not any(e["type"] == "caredrip-probe" for e in tap.events):
                assert time.monotonic() < deadline, "event receiver never subscribed"
                dispatcher.send("caredrip-probe")
                time.sleep(0.05)
        yield tap
    finally:
        tap.stop()
        thread.join(timeout=5)


def test_task_events_of_intake_carry_no_phi(tap: EventTap) -> None:
    with in_process_worker(app, pool="threads", queues=["intake"]):
        ours = tasks.enroll.delay(CLINIC_ID, BODY)  # sent by caredrip's own app
        # A clinic system's own client: no argsrepr, so the body would be in the message's headers.
        theirs = app.send_task("caredrip.enroll", args=(CLINIC_ID, BODY), queue="intake")
        for task_id in (ours.id, theirs.id):
            wait_until(lambda tid=task_id: any(  # type: ignore[misc]
                e["type"] in ("task-succeeded", "task-failed") for e in tap.of(tid)), timeout=20)
    ours_events, theirs_events = tap.of(ours.id), tap.of(theirs.id)
    assert {e["type"] for e in ours_events} >= {"task-sent", "task-received", "task-started"}
    assert {e["type"] for e in theirs_events} >= {"task-received", "task-started"}
    received = next(e for e in theirs_events if e["type"] == "task-received")
    assert CLINIC_ID in received["args"] and "redacted" in received["args"]
    assert leaks(ours_events) == []
    assert leaks([e for e in theirs_events if e["type"] != "task-sent"]) == []  # the worker's own events


def test_the_message_on_the_broker_has_redacted_headers(redis_url: str) -> None:
    with celery_broker(app, redis_url):
        tasks.enroll.apply_async((CLINIC_ID, BODY))
    client = redis.Redis.from_url(redis_url)
    raw = client.lrange("intake", 0, -1)
    assert len(raw) == 1
    message = json.loads(raw[0])
    assert message["headers"]["task"] == "caredrip.enroll"
    assert message["headers"]["argsrepr"] == repr((CLINIC_ID, tasks.REDACTED))
    assert leaks(message["headers"]) == []
    args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    assert args == [CLINIC_ID, BODY]  # the worker still gets the body itself


def test_inspect_shows_redacted_arguments() -> None:
    """`celery inspect active` (and Flower's worker pages) read Request.info(): redacted too."""
    task_message = app.amqp.as_task_v2("tid-1", "caredrip.enroll", args=(CLINIC_ID, BODY))
    message = Message(  # type: ignore[no-untyped-call]
        body=json.dumps(task_message.body), headers=task_message.headers, content_type="application/json",
        content_encoding="utf-8", delivery_info={}, properties={},
    )
    request = tasks.IntakeRequest(message, app=app, task=tasks.enroll)
    for safe in (False, True):
        info = request.info(safe=safe)
        assert leaks(info) == [] and CLINIC_ID in info["args"]
    assert request.args == [CLINIC_ID, BODY]
