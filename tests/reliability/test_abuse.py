"""Abuse: forged and replayed Twilio signatures, another clinic's key, guessed unsubscribe tokens,
revoked and unknown keys. Each is refused and changes nothing."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import enrollment_body, sign, twilio_post
from tests.support.engine import SECRET, run_until_idle
from worker.clinics import revoke_clinic
from worker.clock import FixedClock
from worker.delivery.types import DeliveryDeps
from worker.records import EnrollmentState, MessageState
from worker.store import ClinicStore, Store
from worker.store.keys import due_key
from worker.tokens import unsubscribe_token

INBOUND = "/webhooks/twilio/inbound"


def _opted_out(store: Store, number: str) -> bool:
    return store.sms_opted_out([number])[0]


def test_forged_twilio_signatures_are_403_and_change_nothing(anon: TestClient, enrolled: dict[str, Any],
                                                             store: Store) -> None:
    """A STOP with no signature, a garbage one, one made with another token, one for another URL,
    or one over different parameters is refused with 403; the number stays opted in. The genuine
    STOP then works."""
    number = enrolled["phone"]
    stop = {"From": number, "Body": "STOP", "MessageSid": "SM" + "b" * 32}
    forged = [
        {},
        {"X-Twilio-Signature": "not-a-signature"},
        {"X-Twilio-Signature": sign(stop, INBOUND, token="guessed-token")},
        {"X-Twilio-Signature": sign(stop, "/webhooks/twilio/status")},
        {"X-Twilio-Signature": sign(stop, INBOUND, base="https://attacker.example")},
        {"X-Twilio-Signature": sign({**stop, "Body": "HELP"}, INBOUND)},
    ]
    for headers in forged:
        assert anon.post(INBOUND, data=stop, headers=headers).status_code == 403, headers
        assert not _opted_out(store, number)
    assert twilio_post(anon, INBOUND, stop).status_code == 200
    assert _opted_out(store, number)


def test_replayed_status_callback_changes_nothing(anon: TestClient, enrolled: dict[str, Any],
                                                  delivery: DeliveryDeps, clock: FixedClock) -> None:
    """The same signed `delivered` callback posted again later is accepted (204) but leaves the
    record exactly as the first one did."""
    run_until_idle(delivery, until=clock.now() + timedelta(hours=1))
    mid = f"{enrolled['id']}.welcome.sms.1"
    path = f"/webhooks/twilio/status?m={mid}"
    params = {"MessageSid": "SM" + "c" * 32, "MessageStatus": "delivered", "To": enrolled["phone"]}
    assert twilio_post(anon, path, params).status_code == 204
    first = delivery.engine.store.record(mid)
    assert first is not None and first.state is MessageState.DELIVERED
    clock.advance(timedelta(hours=3))
    assert twilio_post(anon, path, params).status_code == 204
    assert delivery.engine.store.record(mid) == first


def test_another_clinics_key_sees_and_changes_nothing(client: TestClient, enrolled: dict[str, Any],
                                                      other_clinic: tuple[str, str], store: Store) -> None:
    """Every enrollment endpoint answers 404 to another clinic's key, exactly as for a missing id,
    and the enrollment stays active and scheduled."""
    eid = enrolled["id"]
    other = {"Authorization": f"Bearer {other_clinic[1]}"}
    calls = [("GET", f"/v1/enrollments/{eid}", None), ("GET", f"/v1/enrollments/{eid}/messages", None),
             ("PATCH", f"/v1/enrollments/{eid}", {"first_name": "Mallory"}),
             ("POST", f"/v1/enrollments/{eid}/pause", None), ("POST", f"/v1/enrollments/{eid}/resume", None),
             ("POST", f"/v1/enrollments/{eid}/cancel", None)]
    for method, path, body in calls:
        response = client.request(method, path, json=body, headers=other)
        missing = client.request(method, path.replace(eid, "0" * len(eid)), json=body, headers=other)
        assert response.status_code == missing.status_code == 404, (method, path)
        assert response.json() == missing.json()
    stored = store.get_enrollment(eid)
    assert stored is not None and stored.state is EnrollmentState.ACTIVE and stored.first_name == "Ana"
    assert store.redis.zscore(due_key("sms"), eid) is not None


def _guesses(eid: str, other_eid: str) -> list[str]:
    valid = unsubscribe_token(SECRET, eid)
    flipped = valid[:-1] + ("0" if valid[-1] != "0" else "1")
    return [
        secrets.token_urlsafe(24), secrets.token_hex(26), eid, f"{eid}.", f".{valid.split('.')[1]}", flipped,
        valid.upper(), f"{other_eid}.{secrets.token_hex(16)}", f"{other_eid}.{valid.split('.')[1]}",
        valid + "0", "a" * 200, "..%2f..%2fetc%2fpasswd",
    ]


def test_guessed_unsubscribe_tokens_are_404_and_opt_nobody_out(client: TestClient, anon: TestClient,
                                                               enrolled: dict[str, Any], store: Store) -> None:
    """Random strings, a valid token with one character changed, another enrollment's id with a
    forged or borrowed signature: GET and POST answer 404 and no enrollment is opted out. The real
    token then works."""
    other = client.post("/v1/enrollments", json=enrollment_body(patient_ref="p-other")).json()
    for token in _guesses(enrolled["id"], other["id"]):
        assert anon.get(f"/unsubscribe/{token}").status_code == 404, token
        assert anon.post(f"/unsubscribe/{token}").status_code == 404, token
    for eid in (enrolled["id"], other["id"]):
        stored = store.get_enrollment(eid)
        assert stored is not None and not stored.opted_out["email"]
    assert anon.post(f"/unsubscribe/{unsubscribe_token(SECRET, enrolled['id'])}").status_code == 200
    stored = store.get_enrollment(enrolled["id"])
    assert stored is not None and stored.opted_out["email"]


@pytest.mark.parametrize("key", ["revoked", "unknown", "empty", "huge"])
def test_revoked_and_unknown_keys_are_401(client: TestClient, enrolled: dict[str, Any], clinic: tuple[str, str],
                                          clinic_store: ClinicStore, clock: FixedClock, store: Store,
                                          key: str) -> None:
    """A revoked key stops working at once; unknown, empty and oversized keys never work: 401 on
    every enrollment endpoint, even with a body that would be invalid, and nothing changes."""
    headers = {"revoked": clinic[1], "unknown": "cdk_" + secrets.token_urlsafe(32), "empty": "",
               "huge": "x" * 10_000}
    if key == "revoked":
        assert revoke_clinic(clinic_store, clinic[0], clock.now())
    auth = {"Authorization": f"Bearer {headers[key]}"}
    eid = enrolled["id"]
    assert client.post("/v1/enrollments", json=enrollment_body(patient_ref="p-2"), headers=auth).status_code == 401
    assert client.post("/v1/enrollments", json={"first_name": 7}, headers=auth).status_code == 401
    assert client.get(f"/v1/enrollments/{eid}", headers=auth).status_code == 401
    assert client.post(f"/v1/enrollments/{eid}/cancel", headers=auth).status_code == 401
    stored = store.get_enrollment(eid)
    assert stored is not None and stored.state is EnrollmentState.ACTIVE
    assert len(store.redis.keys("cd:{e:*")) == 1
