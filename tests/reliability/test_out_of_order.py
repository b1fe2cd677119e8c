"""Events out of order and repeated: cancel before enroll, the same enrollment 100 times at once,
pause twice, resume without pause, status callbacks late and repeated. Each is harmless."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import enrollment_body, twilio_post
from tests.support.engine import SECRET, outbox_lines, run_until_idle
from worker.delivery.types import DeliveryDeps
from worker.records import MessageState
from worker.store import Store
from worker.store.keys import due_key
from worker.tokens import enrollment_id


def _due_entries(store: Store, eid: str) -> dict[str, float | None]:
    return {ch: store.redis.zscore(due_key(ch), eid) for ch in ("sms", "email")}


def test_cancel_before_enroll_is_404_and_a_later_enroll_works(client: TestClient, clinic: tuple[str, str],
                                                              delivery: DeliveryDeps, outbox: Path) -> None:
    """A cancel that arrives before its enrollment answers 404 and stores nothing; the enrollment,
    when it comes, starts normally and its welcome goes out."""
    eid = enrollment_id(SECRET, clinic[0], "p-early", "twitching")
    assert client.post(f"/v1/enrollments/{eid}/cancel").status_code == 404
    assert client.post(f"/v1/enrollments/{eid}/pause").status_code == 404
    assert not delivery.engine.store.redis.keys("cd:{e:*")
    response = client.post("/v1/enrollments", json=enrollment_body(patient_ref="p-early"))
    assert response.status_code == 201 and response.json()["id"] == eid
    assert response.json()["state"] == "active"
    run_until_idle(delivery, until=delivery.engine.clock.now() + timedelta(hours=1))
    assert sorted(line["channel"] for line in outbox_lines(outbox) if line["enrollment_id"] == eid) == ["email", "sms"]


def test_same_enrollment_100_times_concurrently_makes_one(client: TestClient, store: Store) -> None:
    """100 identical POSTs from 20 threads at once: one 201, ninety-nine 200 with the same id, one
    enrollment in Redis and one due entry per channel."""
    body = enrollment_body(patient_ref="p-burst")
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _i: client.post("/v1/enrollments", json=body), range(100)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 99 + [201], codes
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    assert store.redis.keys("cd:{e:*") == [f"cd:{{e:{ids.pop()}}}"]
    assert store.redis.zcard(due_key("sms")) == 1 and store.redis.zcard(due_key("email")) == 1


def test_pause_twice_and_resume_without_pause_are_idempotent(client: TestClient, enrolled: dict[str, Any],
                                                             delivery: DeliveryDeps, outbox: Path) -> None:
    """Resume of an active enrollment, a second pause and a second resume all answer 200 and change
    nothing; the welcome is then sent exactly once per channel."""
    eid, store = enrolled["id"], delivery.engine.store
    scheduled = _due_entries(store, eid)
    resumed = client.post(f"/v1/enrollments/{eid}/resume")
    assert resumed.status_code == 200 and resumed.json()["state"] == "active"
    assert _due_entries(store, eid) == scheduled
    for _ in range(2):
        paused = client.post(f"/v1/enrollments/{eid}/pause")
        assert paused.status_code == 200 and paused.json()["state"] == "paused"
        assert _due_entries(store, eid) == {"sms": None, "email": None}
    for _ in range(2):
        again = client.post(f"/v1/enrollments/{eid}/resume")
        assert again.status_code == 200 and again.json()["state"] == "active"
        assert _due_entries(store, eid) == scheduled
    run_until_idle(delivery, until=delivery.engine.clock.now() + timedelta(hours=1))
    welcome = [line["channel"] for line in outbox_lines(outbox) if line["step"] == "welcome"]
    assert sorted(welcome) == ["email", "sms"]


def test_status_callbacks_out_of_order_and_repeated(anon: TestClient, enrolled: dict[str, Any],
                                                    delivery: DeliveryDeps) -> None:
    """Callbacks for one SMS arrive late, repeated and out of order (delivered before sent, then
    queued, then undelivered): each answers 204, and the record moves forward only: delivered."""
    run_until_idle(delivery, until=delivery.engine.clock.now() + timedelta(hours=1))
    mid = f"{enrolled['id']}.welcome.sms.1"
    store = delivery.engine.store
    path = f"/webhooks/twilio/status?m={mid}"
    expected = [("delivered", MessageState.DELIVERED), ("sent", MessageState.DELIVERED),
                ("queued", MessageState.DELIVERED), ("delivered", MessageState.DELIVERED),
                ("undelivered", MessageState.DELIVERED), ("sent", MessageState.DELIVERED)]
    for status, state in expected:
        params = {"MessageSid": "SM" + "a" * 32, "MessageStatus": status, "To": enrolled["phone"]}
        assert twilio_post(anon, path, params).status_code == 204
        record = store.record(mid)
        assert record is not None and record.state is state, (status, record)
    missing = f"{enrolled['id']}.closing.sms.1"
    response = twilio_post(anon, f"/webhooks/twilio/status?m={missing}", {"MessageStatus": "delivered"})
    assert response.status_code == 204
    assert store.record(missing) is None, "a callback for a message never sent creates nothing"
