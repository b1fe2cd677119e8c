"""`DELETE /v1/enrollments/{id}?erase=true` (issue 14): a clinic erases its own patient — its
enrollments of the number, its replies, its claim on the number, the email's record — and leaves
another clinic's enrollment of the same number, and the number's SMS opt-out, as they were."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

from fastapi import FastAPI
from starlette.testclient import TestClient

from tests.api.conftest import BASE_URL, PATIENT_PHONE, enrollment_body, send_due, twilio_post
from worker.delivery.types import DeliveryDeps
from worker.deps import EngineDeps
from worker.policy import parse_caps
from worker.records import MessageState
from worker.store.keys import enrollment_key, number_key

INBOUND = "/webhooks/twilio/inbound"
_SIDS = itertools.count(1000)
REPLY = "my hand feels weaker since tuesday"


def text_in(anon: TestClient, body: str) -> None:
    params = {"From": PATIENT_PHONE, "To": "+14155550199", "Body": body, "MessageSid": f"SM{next(_SIDS):032x}"}
    assert twilio_post(anon, INBOUND, params).status_code == 200


def test_a_clinic_erases_its_patient_and_leaves_another_clinics(
    client: TestClient,
    anon: TestClient,
    api: FastAPI,
    other_clinic: tuple[str, str],
    engine: EngineDeps,
    delivery: DeliveryDeps,
) -> None:
    ours = client.post("/v1/enrollments", json=enrollment_body()).json()["id"]
    again = client.post("/v1/enrollments", json=enrollment_body(patient_ref="p-2", program="twitching")).json()["id"]
    with_email_caps = replace(delivery, caps=parse_caps("sms:1/day,3/week;email:2/day"))
    assert send_due(with_email_caps) > 0  # the welcome SMS and email: the number's and the address's records exist
    text_in(anon, REPLY)
    text_in(anon, "STOP")
    assert [r["body"] for r in client.get("/v1/replies").json()["replies"]] == [REPLY]
    store, index = engine.store, engine.index
    phone_bi, email_bi = index.blind_index(PATIENT_PHONE), index.blind_index("ana@example.com")
    assert store.redis.exists(number_key(email_bi))
    with TestClient(api, base_url=BASE_URL, headers={"Authorization": f"Bearer {other_clinic[1]}"}) as other:
        theirs = other.post("/v1/enrollments", json=enrollment_body(patient_ref="h-1", email=None,
                                                                    channels=["sms"])).json()["id"]  # fmt: skip

        response = client.delete(f"/v1/enrollments/{ours}?erase=true")
        assert response.status_code == 200, response.text
        assert response.json() == {
            "id": ours,
            "erased": {"enrollments": 2, "canceled": 2, "replies": 1, "records": 1, "notes": 3},
        }
        for eid in (ours, again):
            view = client.get(f"/v1/enrollments/{eid}").json()
            assert (view["state"], view["first_name"], view["phone"], view["email"], view["patient_ref"]) == (
                "canceled", "", None, None, ""
            )  # fmt: skip
            assert not {"n", "ph", "em", "r", "x"} & set(store.redis.hgetall(enrollment_key(eid)))
            messages = client.get(f"/v1/enrollments/{eid}/messages").json()["messages"]
            assert messages and all(m["state"] != MessageState.RETRYING.value for m in messages)
        assert client.get("/v1/replies").json()["replies"] == []
        assert store.number_replies(phone_bi) == [] and not store.redis.exists(number_key(email_bi))
        assert store.number_record(phone_bi).enrollments == {theirs: other_clinic[0]}  # another clinic's stays

        kept = other.get(f"/v1/enrollments/{theirs}").json()
        assert (kept["state"], kept["first_name"], kept["phone"]) == ("active", "Ana", PATIENT_PHONE)
        assert kept["opt_outs"]["sms"]["source"] == "stop"  # the STOP is still honoured
        assert store.sms_opted_out([PATIENT_PHONE]) == [True]
        assert [e["action"] for e in other.get("/v1/audit").json()["entries"]] == ["enroll"]

    entries = client.get("/v1/audit").json()["entries"]
    assert [(e["action"], e["enrollment_id"]) for e in entries[:4]] == [
        ("erase", ours), ("erase", again), ("cancel", again), ("cancel", ours)
    ]  # fmt: skip
    assert entries[0]["detail"] == {"scope": "clinic", "enrollments": 2, "canceled": 2, "replies": 1, "records": 1,
                                    "notes": 3}  # fmt: skip
    assert REPLY not in str(entries) and PATIENT_PHONE not in str(entries)

    second = client.delete(f"/v1/enrollments/{ours}?erase=true")
    assert second.status_code == 200
    assert second.json()["erased"] == {"enrollments": 0, "canceled": 0, "replies": 0, "records": 0, "notes": 0}
    assert client.get("/v1/audit").json()["entries"][0]["detail"]["enrollments"] == 0


def test_erasure_is_for_the_clinics_own_enrollment_only(
    api: FastAPI, other_clinic: tuple[str, str], enrolled: dict[str, Any], engine: EngineDeps
) -> None:
    with TestClient(api, base_url=BASE_URL, headers={"Authorization": f"Bearer {other_clinic[1]}"}) as other:
        assert other.delete(f"/v1/enrollments/{enrolled['id']}?erase=true").status_code == 404
        assert other.delete("/v1/enrollments/e0000000000000000000?erase=true").status_code == 404
    stored = engine.store.get_enrollment(enrolled["id"])
    assert stored is not None and (stored.phone, stored.first_name) == (PATIENT_PHONE, "Ana")
    with TestClient(api, base_url=BASE_URL) as nobody:
        assert nobody.delete(f"/v1/enrollments/{enrolled['id']}?erase=true").status_code == 401


def test_an_email_only_patient_is_erased_too(client: TestClient) -> None:
    consent = {"email": True, "recorded_at": "2026-01-01T00:00:00Z"}
    body = enrollment_body(phone=None, channels=["email"], consent=consent)
    eid = client.post("/v1/enrollments", json=body).json()["id"]
    response = client.delete(f"/v1/enrollments/{eid}?erase=true")
    assert response.status_code == 200
    assert response.json()["erased"] == {"enrollments": 1, "canceled": 1, "replies": 0, "records": 0, "notes": 0}
    view = client.get(f"/v1/enrollments/{eid}").json()
    assert (view["state"], view["email"], view["first_name"]) == ("canceled", None, "")
