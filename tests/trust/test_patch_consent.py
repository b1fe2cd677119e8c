"""A PATCH's consent is kept as evidence, per channel with its recorded_at (issue 13, item 5)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.api.conftest import PATIENT_PHONE, enrollment_body

FIRST = {"recorded_at": "2026-01-01T00:00:00+00:00"}
LATER = "2026-03-01T12:00:00+00:00"


def consent_of(client: TestClient, eid: str) -> dict[str, Any]:
    response = client.get(f"/v1/enrollments/{eid}")
    assert response.status_code == 200, response.text
    return response.json()["consent"]  # type: ignore[no-any-return]


def email_only(client: TestClient) -> str:
    body = enrollment_body(channels=["email"], phone=None, consent={"email": True, "recorded_at": FIRST["recorded_at"]})
    created = client.post("/v1/enrollments", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_a_channel_added_by_patch_keeps_the_consent_it_carried(client: TestClient) -> None:
    eid = email_only(client)
    assert consent_of(client, eid) == {"email": FIRST}
    patch = {"channels": ["email", "sms"], "phone": PATIENT_PHONE, "consent": {"sms": True, "recorded_at": LATER}}
    answered = client.patch(f"/v1/enrollments/{eid}", json=patch)
    assert answered.status_code == 200, answered.text
    assert answered.json()["consent"] == {"email": FIRST, "sms": {"recorded_at": LATER}}
    assert consent_of(client, eid) == {"email": FIRST, "sms": {"recorded_at": LATER}}


def test_a_new_phone_number_keeps_its_fresh_sms_consent(client: TestClient) -> None:
    eid = client.post("/v1/enrollments", json=enrollment_body()).json()["id"]
    patch = {"phone": "+14155552672", "consent": {"sms": True, "recorded_at": LATER}}
    assert client.patch(f"/v1/enrollments/{eid}", json=patch).status_code == 200
    assert consent_of(client, eid) == {"sms": {"recorded_at": LATER}, "email": FIRST}


def test_a_patch_without_consent_leaves_it_and_unused_channels_get_none(client: TestClient) -> None:
    eid = client.post("/v1/enrollments", json=enrollment_body(channels=["sms"], email=None)).json()["id"]
    assert client.patch(f"/v1/enrollments/{eid}", json={"first_name": "Anita"}).status_code == 200
    assert consent_of(client, eid) == {"sms": FIRST}
    # consent for a channel the enrollment does not use is not recorded for it (as at enrollment)
    patch = {"email": "ana@example.com", "consent": {"email": True, "recorded_at": LATER}}
    assert client.patch(f"/v1/enrollments/{eid}", json=patch).status_code == 200
    assert consent_of(client, eid) == {"sms": FIRST}


def test_a_refused_patch_records_no_consent(client: TestClient) -> None:
    eid = email_only(client)
    future = {"sms": True, "recorded_at": "2027-01-01T00:00:00+00:00"}
    refused = client.patch(f"/v1/enrollments/{eid}", json={"channels": ["email", "sms"], "phone": PATIENT_PHONE,
                                                          "consent": future})
    assert refused.status_code == 422
    assert consent_of(client, eid) == {"email": FIRST}
