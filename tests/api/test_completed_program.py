"""A completed program over HTTP: its records, packed once it ended (worker.store.packed), read as
before through the API and FHIR, and a late Twilio status callback still applies."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.api.conftest import PATIENT_PHONE, twilio_post
from tests.support.engine import run_until_idle
from worker.delivery.types import DeliveryDeps
from worker.store import Store, packed
from worker.store.keys import enrollment_key, records_key


def test_a_completed_programs_messages_read_the_same_and_a_late_callback_lands(
    client: TestClient, enrolled: dict[str, Any], delivery: DeliveryDeps, store: Store
) -> None:
    eid = enrolled["id"]
    run_until_idle(delivery)
    assert client.get(f"/v1/enrollments/{eid}").json()["state"] == "completed"
    assert not store.redis.exists(records_key(eid))  # packed into the enrollment hash
    assert any(packed.is_chunk(str(f)) for f in store.redis.hkeys(enrollment_key(eid)))

    messages = client.get(f"/v1/enrollments/{eid}/messages").json()["messages"]
    assert len(messages) == 22 and {m["state"] for m in messages} == {"sent"}
    assert all(m["provider_id"] == f"outbox-{m['id']}" for m in messages)
    bundle = client.get(f"/fhir/r4/Communication?based-on=CarePlan/{eid}").json()
    assert bundle["total"] == 22 and {e["resource"]["status"] for e in bundle["entry"]} == {"completed"}

    last = next(m["id"] for m in reversed(messages) if m["channel"] == "sms")
    params = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered", "To": PATIENT_PHONE}
    response = twilio_post(client, f"/webhooks/twilio/status?m={last}", {**params, "AccountSid": "AC" + "1" * 32})
    assert response.status_code in (200, 204), response.text
    after = {m["id"]: m for m in client.get(f"/v1/enrollments/{eid}/messages").json()["messages"]}
    assert after[last]["state"] == "delivered" and len(after) == 22
    assert not store.redis.exists(records_key(eid))  # folded back into the packed records
    one = client.get(f"/fhir/r4/Communication/{last}")
    assert one.status_code == 200 and one.json()["id"] == last
