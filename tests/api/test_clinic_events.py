"""The events a clinic's webhook hears from what happens to its patients: a STOP (each clinic of
the number, its own enrollment only), an email unsubscribe, a failed message, a completed program;
delivered to real HTTP receivers on loopback that verify each signature."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from tests.api.conftest import BASE_URL, PATIENT_PHONE, enrollment_body, send_due, twilio_post
from tests.api.test_webhooks import INBOUND, callback, inbound, status_path
from tests.support.engine import next_due
from tests.support.webhook_receiver import WebhookReceiver, deliver_due
from worker.clock import FixedClock
from worker.delivery.types import DeliveryDeps
from worker.deps import EngineDeps
from worker.tokens import unsubscribe_token

PHI = ("Ana", PATIENT_PHONE, "ana@example.com", "4155552671")


@pytest.fixture
def hook(client: TestClient, clock: FixedClock) -> Iterator[WebhookReceiver]:
    """The clinic's webhook, registered through the API."""
    with WebhookReceiver(now=lambda: clock.now().timestamp()) as receiver:
        receiver.secret = client.put("/v1/clinic/webhook", json={"url": receiver.url}).json()["secret"]
        yield receiver


def events(delivery: DeliveryDeps, receiver: WebhookReceiver) -> list[dict[str, Any]]:
    """Deliver what is due, then every event the receiver got; each verified, none with PHI."""
    deliver_due(delivery)
    assert all(r.verified for r in receiver.received)
    assert not any(p in r.body.decode() for r in receiver.received for p in PHI)
    return [r.event for r in receiver.received]


def test_stop_tells_each_clinic_of_the_number_about_its_own_enrollment(
    api: FastAPI,
    client: TestClient,
    anon: TestClient,
    hook: WebhookReceiver,
    delivery: DeliveryDeps,
    other_clinic: tuple[str, str],
    clock: FixedClock,
) -> None:
    mine = client.post("/v1/enrollments", json=enrollment_body()).json()["id"]
    with (
        TestClient(api, base_url=BASE_URL, headers={"Authorization": f"Bearer {other_clinic[1]}"}) as other,
        WebhookReceiver(now=lambda: clock.now().timestamp()) as theirs,
    ):
        theirs.secret = other.put("/v1/clinic/webhook", json={"url": theirs.url}).json()["secret"]
        their_eid = other.post("/v1/enrollments", json=enrollment_body(patient_ref="h-9")).json()["id"]
        assert twilio_post(anon, INBOUND, inbound("STOP")).status_code == 200
        assert twilio_post(anon, INBOUND, inbound("stop")).status_code == 200  # again: the same opt-out
        [event] = events(delivery, hook)
        [their_event] = events(delivery, theirs)
    assert event["type"] == "enrollment.opted_out"
    assert event["data"] == {
        "enrollment_id": mine,
        "patient_ref": "p-1",
        "program": "twitching",
        "channel": "sms",
        "source": "stop",
        "opted_out_at": clock.now().isoformat(),
    }
    assert their_event["data"]["enrollment_id"] == their_eid and their_event["data"]["patient_ref"] == "h-9"
    assert their_event["id"] != event["id"]


def test_an_email_unsubscribe_is_an_opted_out_event(
    client: TestClient, anon: TestClient, hook: WebhookReceiver, delivery: DeliveryDeps, engine: EngineDeps
) -> None:
    eid = client.post("/v1/enrollments", json=enrollment_body()).json()["id"]
    for _ in range(2):
        assert anon.post(f"/unsubscribe/{unsubscribe_token(engine.secret, eid)}").status_code == 200
    [event] = events(delivery, hook)
    assert event["type"] == "enrollment.opted_out"
    assert (event["data"]["channel"], event["data"]["source"], event["data"]["enrollment_id"]) == (
        "email", "unsubscribe", eid
    )  # fmt: skip


def test_a_failed_status_callback_is_a_message_failed_event_and_21610_an_opt_out(
    client: TestClient, anon: TestClient, hook: WebhookReceiver, delivery: DeliveryDeps
) -> None:
    eid = client.post("/v1/enrollments", json=enrollment_body()).json()["id"]
    send_due(delivery)
    mid = f"{eid}.welcome.sms.1"
    assert twilio_post(anon, status_path(mid), callback("undelivered", "21610")).status_code == 204
    assert twilio_post(anon, status_path(mid), callback("failed", "21610")).status_code == 204  # same message
    found = {e["type"]: e for e in events(delivery, hook)}
    assert sorted(found) == ["enrollment.opted_out", "message.failed"]
    failed = found["message.failed"]["data"]
    assert failed["message_id"] == mid and failed["state"] == "undelivered" and failed["reason"] == "21610"
    assert (failed["enrollment_id"], failed["step"], failed["channel"]) == (eid, "welcome", "sms")
    assert found["enrollment.opted_out"]["data"]["source"] == "provider"


def test_the_last_message_done_is_an_enrollment_completed_event(
    client: TestClient, hook: WebhookReceiver, delivery: DeliveryDeps, clock: FixedClock
) -> None:
    eid = client.post("/v1/enrollments", json=enrollment_body(channels=["email"], phone=None)).json()["id"]
    for _ in range(200):
        send_due(delivery)
        upcoming = next_due(delivery)
        if upcoming is None:
            break
        clock.set(max(upcoming, clock.now()))
    assert client.get(f"/v1/enrollments/{eid}").json()["state"] == "completed"
    [event] = events(delivery, hook)
    assert event["type"] == "enrollment.completed"
    assert event["data"] == {
        "enrollment_id": eid,
        "patient_ref": "p-1",
        "program": "twitching",
        "state": "completed",
        "completed_at": event["created_at"],
    }
