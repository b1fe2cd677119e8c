"""The enrollment API over HTTP: auth, validation (422 per field), idempotency, lifecycle, limits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from tests.api.conftest import PATIENT_PHONE, enrollment_body, send_due
from worker.clinics import revoke_clinic
from worker.clock import FixedClock
from worker.delivery.types import DeliveryDeps
from worker.store import ClinicStore, Store


def enrollment_keys(store: Store) -> list[str]:
    return [str(k) for k in store.redis.scan_iter("cd:{e:*")]


# -- auth ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer cdk_not-a-real-key"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "cdk_no-scheme"},
    ],
)
def test_missing_or_bad_key_is_401_with_challenge(anon: TestClient, headers: dict[str, str], store: Store) -> None:
    response = anon.post("/v1/enrollments", json=enrollment_body(), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert enrollment_keys(store) == []


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/v1/enrollments/abc"),
        ("GET", "/v1/enrollments/abc/messages"),
        ("PATCH", "/v1/enrollments/abc"),
        ("POST", "/v1/enrollments/abc/pause"),
        ("POST", "/v1/enrollments/abc/resume"),
        ("POST", "/v1/enrollments/abc/cancel"),
    ],
)
def test_every_enrollment_endpoint_needs_a_key(anon: TestClient, method: str, path: str) -> None:
    response = anon.request(method, path, json={} if method == "PATCH" else None)
    assert response.status_code == 401


def test_invalid_json_without_a_key_is_401_not_422(anon: TestClient) -> None:
    response = anon.post("/v1/enrollments", content=b"{nope", headers={"Content-Type": "application/json"})
    assert response.status_code == 401


def test_an_invalid_body_with_an_unknown_key_is_401_not_422(anon: TestClient, store: Store) -> None:
    """The key is looked up on the handler's own thread, after the body: a bad body still says 401."""
    headers = {"Authorization": "Bearer cdk_not-a-real-key"}
    response = anon.post("/v1/enrollments", json={**enrollment_body(), "phone": "nope"}, headers=headers)
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
    assert enrollment_keys(store) == []


def test_revoked_key_is_401(
    client: TestClient, clinic: tuple[str, str], clinic_store: ClinicStore, clock: FixedClock
) -> None:
    assert client.post("/v1/enrollments", json=enrollment_body()).status_code == 201
    assert revoke_clinic(clinic_store, clinic[0], clock.now())
    response = client.post("/v1/enrollments", json=enrollment_body(patient_ref="p-2"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_keys_are_stored_hashed(clinic: tuple[str, str], clinic_store: ClinicStore) -> None:
    dump = {k: clinic_store.redis.dump(k) for k in clinic_store.redis.scan_iter("*")}
    assert clinic[1].encode() not in b"".join(v for v in dump.values() if v)


def test_other_clinics_enrollment_is_404_exactly_like_a_missing_one(
    api: FastAPI, enrolled: dict[str, Any], other_clinic: tuple[str, str]
) -> None:
    eid = enrolled["id"]
    with TestClient(api, headers={"Authorization": f"Bearer {other_clinic[1]}"}) as other:
        for method, path in [
            ("GET", f"/v1/enrollments/{eid}"),
            ("GET", f"/v1/enrollments/{eid}/messages"),
            ("PATCH", f"/v1/enrollments/{eid}"),
            ("POST", f"/v1/enrollments/{eid}/pause"),
            ("POST", f"/v1/enrollments/{eid}/resume"),
            ("POST", f"/v1/enrollments/{eid}/cancel"),
        ]:
            theirs = other.request(method, path, json={"first_name": "Eve"} if method == "PATCH" else None)
            missing = other.request(
                method, path.replace(eid, "0" * 20), json={"first_name": "Eve"} if method == "PATCH" else None
            )
            assert theirs.status_code == missing.status_code == 404, (method, path)
            assert theirs.json() == missing.json()
        # the same patient_ref enrolled by the other clinic is a different enrollment
        response = other.post("/v1/enrollments", json=enrollment_body())
        assert response.status_code == 201
        assert response.json()["id"] != eid


@pytest.mark.parametrize("eid", ["0" * 20, "nope", "a.b", "x" * 300, "%E2%80%AE"])
def test_unknown_id_is_404(client: TestClient, eid: str) -> None:
    assert client.get(f"/v1/enrollments/{eid}").status_code == 404
    assert client.post(f"/v1/enrollments/{eid}/cancel").status_code == 404


# -- create --------------------------------------------------------------------------------------
def test_post_creates_then_answers_200_with_the_same_enrollment(client: TestClient, clinic: tuple[str, str]) -> None:
    first = client.post("/v1/enrollments", json=enrollment_body())
    assert first.status_code == 201
    body = first.json()
    assert body["clinic_id"] == clinic[0]
    assert body["state"] == "active"
    assert body["phone"] == PATIENT_PHONE
    assert body["channels"] == ["sms", "email"]
    assert body["ended_at"] is None
    # 15:00Z is 10:00 in New York: the welcome is due at once
    assert body["next_message_at"] == "2026-03-02T15:00:00+00:00"
    assert datetime.fromisoformat(body["created_at"]).utcoffset() is not None
    again = client.post("/v1/enrollments", json=enrollment_body(first_name="Changed"))
    assert again.status_code == 200
    assert again.json() == body
    assert client.get(f"/v1/enrollments/{body['id']}").json() == body


def test_phone_is_stored_as_sent_and_never_rewritten(client: TestClient) -> None:
    """Surrounding blanks are trimmed like every field's; spaces, dashes or parentheses inside are
    refused (422 naming phone), not rewritten into another number."""
    response = client.post("/v1/enrollments", json=enrollment_body(phone=f" {PATIENT_PHONE} "))
    assert response.status_code == 201
    assert response.json()["phone"] == PATIENT_PHONE
    formatted = client.post("/v1/enrollments", json=enrollment_body(patient_ref="p-2", phone="+1 (415) 555-2671"))
    assert formatted.status_code == 422
    assert formatted.json()["detail"][0]["loc"] == ["body", "phone"]


def test_start_at_in_the_future_sets_the_first_message(client: TestClient) -> None:
    response = client.post("/v1/enrollments", json=enrollment_body(start_at="2026-03-10T16:00:00+00:00"))
    assert response.status_code == 201
    assert response.json()["next_message_at"] == "2026-03-10T16:00:00+00:00"


CONSENT = {"sms": True, "email": True, "recorded_at": "2026-01-01T00:00:00Z"}
INVALID = [
    ("national phone", {"phone": "4155552671"}, ["body", "phone"], "E.164"),
    ("landline", {"phone": "+442071838750"}, ["body", "phone"], "landline"),
    ("not a number", {"phone": "+1999"}, ["body", "phone"], ""),
    ("email with CRLF", {"email": "ana@example.com\r\nBcc: eve@example.com"}, ["body", "email"], "line breaks"),
    ("bad email", {"email": "ana@"}, ["body", "email"], ""),
    ("unknown timezone", {"timezone": "Mars/Olympus_Mons"}, ["body", "timezone"], "IANA"),
    ("start_at 1900", {"start_at": "1900-01-01T00:00:00Z"}, ["body", "start_at"], "range"),
    ("start_at 2200", {"start_at": "2200-01-01T00:00:00Z"}, ["body", "start_at"], "range"),
    ("start_at naive", {"start_at": "2026-03-05T10:00:00"}, ["body", "start_at"], "offset"),
    ("start_at next year+", {"start_at": "2028-01-01T00:00:00Z"}, ["body", "start_at"], "365"),
    ("unknown program", {"program": "no-such-program"}, ["body", "program"], "unknown program"),
    ("unknown language", {"language": "fr"}, ["body", "language"], ""),
    ("no consent at all", {"consent": None}, ["body", "consent"], ""),
    ("no sms consent", {"consent": {**CONSENT, "sms": False}}, ["body", "consent", "sms"], "consent"),
    ("no email consent", {"consent": {**CONSENT, "email": False}}, ["body", "consent", "email"], "consent"),
    ("consent without time", {"consent": {"sms": True, "email": True}}, ["body", "consent", "recorded_at"], ""),
    ("sms without phone", {"phone": None}, ["body", "phone"], "required when channels include sms"),
    ("email without address", {"email": None, "channels": ["email"]}, ["body", "email"], "required"),
    ("no channels", {"channels": []}, ["body", "channels"], ""),
    ("unknown channel", {"channels": ["fax"]}, ["body", "channels", 0], ""),
    ("repeated channel", {"channels": ["sms", "sms"]}, ["body", "channels"], "repeat"),
    ("first_name 500 chars", {"first_name": "A" * 500}, ["body", "first_name"], "at most"),
    ("first_name control char", {"first_name": "Ana\x07"}, ["body", "first_name"], "control"),
    ("first_name newline", {"first_name": "Ana\nBcc"}, ["body", "first_name"], "control"),
    ("first_name blank", {"first_name": "   "}, ["body", "first_name"], ""),
    ("patient_ref too long", {"patient_ref": "r" * 129}, ["body", "patient_ref"], ""),
    ("patient_ref number", {"patient_ref": 123}, ["body", "patient_ref"], ""),
    ("channels as string", {"channels": "sms"}, ["body", "channels"], ""),
    ("consent as list", {"consent": ["sms"]}, ["body", "consent"], ""),
    ("unknown field", {"ssn": "123-45-6789"}, ["body", "ssn"], ""),
]


@pytest.mark.parametrize("overrides, loc, words", [case[1:] for case in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_field_is_422_naming_it(
    client: TestClient, store: Store, overrides: dict[str, Any], loc: list[Any], words: str
) -> None:
    body = enrollment_body(**{k: v for k, v in overrides.items() if v is not None})
    for key in [k for k, v in overrides.items() if v is None]:
        body.pop(key)
    response = client.post("/v1/enrollments", json=body)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert any(e["loc"] == loc and words in e["msg"] for e in errors), errors
    assert all(set(e) == {"loc", "msg", "type"} for e in errors)
    assert enrollment_keys(store) == []


@pytest.mark.parametrize("content", [b"", b"{", b"null", b"[]", b'"x"', b"\xff\xfe"])
def test_malformed_or_empty_body_is_422(client: TestClient, content: bytes, store: Store) -> None:
    response = client.post("/v1/enrollments", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"
    assert enrollment_keys(store) == []


def test_body_over_64_kib_is_413_and_nothing_is_stored(client: TestClient, store: Store) -> None:
    big = enrollment_body(patient_ref="x" * (70 * 1024))
    response = client.post("/v1/enrollments", json=big)
    assert response.status_code == 413
    assert enrollment_keys(store) == []


def test_chunked_body_over_64_kib_is_413(client: TestClient, store: Store) -> None:
    """No Content-Length: the limit counts what actually arrives."""

    def chunks() -> Any:
        yield b'{"patient_ref": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}'

    response = client.post("/v1/enrollments", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert enrollment_keys(store) == []


# -- read ----------------------------------------------------------------------------------------
def test_messages_lists_what_was_sent(client: TestClient, enrolled: dict[str, Any], delivery: DeliveryDeps) -> None:
    eid = enrolled["id"]
    assert client.get(f"/v1/enrollments/{eid}/messages").json() == {"enrollment_id": eid, "messages": []}
    send_due(delivery)
    body = client.get(f"/v1/enrollments/{eid}/messages").json()
    assert body["enrollment_id"] == eid
    by_channel = {m["channel"]: m for m in body["messages"]}
    assert set(by_channel) == {"sms", "email"}
    sms = by_channel["sms"]
    assert sms == {
        "id": f"{eid}.welcome.sms.1",
        "step": "welcome",
        "channel": "sms",
        "state": "sent",
        "at": "2026-03-02T15:00:00+00:00",
        "provider_id": f"outbox-{eid}.welcome.sms.1",
        "reason": None,
        "attempts": 1,
    }
    # the next message is the day-2 lesson (day 0 = enrollment day) at 10:00 New York time
    assert client.get(f"/v1/enrollments/{eid}").json()["next_message_at"] == "2026-03-04T15:00:00+00:00"


# -- update and lifecycle ------------------------------------------------------------------------
def test_patch_changes_only_given_fields_and_is_idempotent(client: TestClient, enrolled: dict[str, Any]) -> None:
    eid = enrolled["id"]
    consent = {"sms": True, "recorded_at": "2026-03-02T14:00:00Z"}  # a new number needs fresh SMS consent
    patch = {"timezone": "America/Los_Angeles", "first_name": "Anita", "phone": "+14155552672", "consent": consent}
    first = client.patch(f"/v1/enrollments/{eid}", json=patch)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["timezone"], body["first_name"], body["phone"]) == ("America/Los_Angeles", "Anita", "+14155552672")
    assert body["email"] == enrolled["email"]
    assert body["language"] == "en"
    second = client.patch(f"/v1/enrollments/{eid}", json=patch)
    assert second.status_code == 200
    assert second.json() == body
    assert client.patch(f"/v1/enrollments/{eid}", json={}).json() == body


def test_patch_can_drop_and_add_channels(client: TestClient) -> None:
    created = client.post(
        "/v1/enrollments",
        json=enrollment_body(channels=["email"], consent={"email": True, "recorded_at": "2026-01-01T00:00:00Z"}),
    ).json()
    eid = created["id"]
    assert created["phone"] is None
    refused = client.patch(f"/v1/enrollments/{eid}", json={"channels": ["sms", "email"]})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "phone"]
    no_consent = client.patch(f"/v1/enrollments/{eid}", json={"channels": ["sms", "email"], "phone": PATIENT_PHONE})
    assert no_consent.status_code == 422
    assert no_consent.json()["detail"][0]["loc"] == ["body", "consent", "sms"]
    added = client.patch(
        f"/v1/enrollments/{eid}",
        json={
            "channels": ["sms", "email"],
            "phone": PATIENT_PHONE,
            "consent": {"sms": True, "recorded_at": "2026-03-01T00:00:00Z"},
        },
    )
    assert added.status_code == 200, added.text
    assert added.json()["channels"] == ["sms", "email"]
    dropped = client.patch(f"/v1/enrollments/{eid}", json={"channels": ["sms"]})
    assert dropped.json()["channels"] == ["sms"]


@pytest.mark.parametrize(
    "patch, loc",
    [
        ({"phone": "+442071838750"}, ["body", "phone"]),
        ({"email": "a@b.com\nBcc: c@d.com"}, ["body", "email"]),
        ({"timezone": "Nowhere/Town"}, ["body", "timezone"]),
        ({"language": "de"}, ["body", "language"]),
        ({"channels": ["sms", "sms"]}, ["body", "channels"]),
        ({"first_name": "x" * 101}, ["body", "first_name"]),
        ({"id": "other"}, ["body", "id"]),
    ],
)
def test_invalid_patch_is_422(
    client: TestClient, enrolled: dict[str, Any], patch: dict[str, Any], loc: list[str]
) -> None:
    response = client.patch(f"/v1/enrollments/{enrolled['id']}", json=patch)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc
    assert client.get(f"/v1/enrollments/{enrolled['id']}").json() == enrolled


def test_pause_resume_cancel_are_idempotent(client: TestClient, enrolled: dict[str, Any]) -> None:
    eid = enrolled["id"]
    for _ in range(2):
        paused = client.post(f"/v1/enrollments/{eid}/pause")
        assert paused.status_code == 200
        assert paused.json()["state"] == "paused"
        assert paused.json()["next_message_at"] is None
    for _ in range(2):
        resumed = client.post(f"/v1/enrollments/{eid}/resume")
        assert resumed.status_code == 200
        assert resumed.json()["state"] == "active"
        assert resumed.json()["next_message_at"] == enrolled["next_message_at"]
    for _ in range(2):
        canceled = client.post(f"/v1/enrollments/{eid}/cancel")
        assert canceled.status_code == 200
        assert canceled.json()["state"] == "canceled"
        assert canceled.json()["ended_at"] == "2026-03-02T15:00:00+00:00"


def test_an_ended_enrollment_cannot_be_resumed_paused_or_changed(client: TestClient, enrolled: dict[str, Any]) -> None:
    eid = enrolled["id"]
    client.post(f"/v1/enrollments/{eid}/cancel")
    for method, path in [("POST", "resume"), ("POST", "pause"), ("PATCH", "")]:
        url = f"/v1/enrollments/{eid}" + (f"/{path}" if path else "")
        response = client.request(method, url, json={"first_name": "X"} if method == "PATCH" else None)
        assert response.status_code == 409, (method, path)
    assert client.get(f"/v1/enrollments/{eid}").json()["state"] == "canceled"
    # enrolling the same patient again starts a new enrollment (issue 13, item 16); the ended one
    # stays as it was
    again = client.post("/v1/enrollments", json=enrollment_body())
    assert (again.status_code, again.json()["state"]) == (201, "active") and again.json()["id"] != eid
    assert client.get(f"/v1/enrollments/{eid}").json()["state"] == "canceled"


def test_paused_enrollment_sends_nothing(
    client: TestClient, enrolled: dict[str, Any], delivery: DeliveryDeps, outbox: Any
) -> None:
    client.post(f"/v1/enrollments/{enrolled['id']}/pause")
    send_due(delivery)
    assert not outbox.exists()


def test_openapi_lists_every_endpoint(anon: TestClient) -> None:
    spec = anon.get("/openapi.json").json()
    assert set(spec["paths"]) == {
        "/v1/enrollments",
        "/v1/enrollments/{eid}",
        "/v1/enrollments/{eid}/messages",
        "/v1/enrollments/{eid}/pause",
        "/v1/enrollments/{eid}/resume",
        "/v1/enrollments/{eid}/cancel",
        "/v1/enrollments/{eid}/schedule",
        "/v1/enrollments/bulk",
        "/v1/replies",
        "/v1/replies/{rid}/ack",
        "/v1/clinic",
        "/v1/clinic/webhook",
        "/v1/audit",
        "/webhooks/twilio/status",
        "/webhooks/twilio/inbound",
        "/unsubscribe/{token}",
        "/healthz",
        "/metrics",
    }
    assert set(spec["paths"]["/unsubscribe/{token}"]) == {"get", "post"}
    assert {"get", "patch", "delete"} <= set(spec["paths"]["/v1/enrollments/{eid}"])
    schemas = spec["components"]["schemas"]
    assert {"EnrollmentOut", "MessagesOut", "EnrollmentBody", "EnrollmentPatch", "Health"} <= set(schemas)
    assert "next_message_at" in schemas["EnrollmentOut"]["properties"]
