"""The first SMS to any number introduces the clinic and the keywords (issue 13, item 4)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from starlette.testclient import TestClient

from tests.api.conftest import CLINIC_NAME, PATIENT_PHONE, enrollment_body, send_due
from tests.support.engine import outbox_lines, run_until_idle
from worker.clock import FixedClock
from worker.delivery.dispatch import dispatch_once
from worker.delivery.send import send_batch
from worker.delivery.types import DeliveryDeps
from worker.store import BeginStatus, Store

NEW_YORK = ZoneInfo("America/New_York")
NEW_PHONE = "+14155552672"
KEYWORDS = "Reply STOP to opt out, HELP for help"


def sms_to(outbox: Path, number: str) -> list[dict[str, Any]]:
    return [m for m in outbox_lines(outbox) if m["channel"] == "sms" and m["to"] == number]


def introduces(message: dict[str, Any]) -> bool:
    return CLINIC_NAME in message["body"] and KEYWORDS in message["body"]


def test_sms_added_by_patch_starts_with_an_introduction(
    client: TestClient, delivery: DeliveryDeps, clock: FixedClock, outbox: Path
) -> None:
    created = client.post("/v1/enrollments", json=enrollment_body(channels=["email"], phone=None)).json()
    send_due(delivery)
    clock.set(datetime(2026, 3, 6, 12, 0, tzinfo=NEW_YORK))  # mid-program
    patch = {"channels": ["email", "sms"], "phone": PATIENT_PHONE,
             "consent": {"sms": True, "recorded_at": "2026-03-06T16:00:00Z"}}  # fmt: skip
    assert client.patch(f"/v1/enrollments/{created['id']}", json=patch).status_code == 200
    run_until_idle(delivery, until=datetime(2026, 3, 12, tzinfo=NEW_YORK))
    texts = sms_to(outbox, PATIENT_PHONE)
    assert texts, "the added SMS channel sent nothing"
    assert introduces(texts[0]), texts[0]["body"]


def test_a_new_phone_number_gets_an_introduction_first(
    client: TestClient, delivery: DeliveryDeps, clock: FixedClock, outbox: Path
) -> None:
    created = client.post("/v1/enrollments", json=enrollment_body(channels=["sms"], email=None)).json()
    send_due(delivery)
    assert introduces(sms_to(outbox, PATIENT_PHONE)[0])
    clock.set(datetime(2026, 3, 6, 12, 0, tzinfo=NEW_YORK))
    patch = {"phone": NEW_PHONE, "consent": {"sms": True, "recorded_at": "2026-03-06T16:00:00Z"}}
    assert client.patch(f"/v1/enrollments/{created['id']}", json=patch).status_code == 200
    run_until_idle(delivery, until=datetime(2026, 3, 12, tzinfo=NEW_YORK))
    texts = sms_to(outbox, NEW_PHONE)
    assert texts and introduces(texts[0]), [t["body"] for t in texts]


def patch_new_phone(client: TestClient, eid: str, phone: str = NEW_PHONE, **more: Any) -> None:
    patch = {"phone": phone, "consent": {"sms": True, "recorded_at": "2026-03-02T14:00:00Z"}, **more}
    response = client.patch(f"/v1/enrollments/{eid}", json=patch)
    assert response.status_code == 200, response.text


def test_the_introduction_is_a_message_of_its_own_then_the_program_goes_on(
    client: TestClient, delivery: DeliveryDeps, clock: FixedClock, outbox: Path
) -> None:
    """Its own id (`<eid>.intro.sms.<n>`, n counting the numbers introduced), a record, a place
    under the caps (the overdue lesson moves to the next allowed morning), and the lessons after."""
    eid = client.post("/v1/enrollments", json=enrollment_body(channels=["sms"], email=None)).json()["id"]
    send_due(delivery)  # the welcome, to the first number
    clock.set(datetime(2026, 3, 6, 12, 0, tzinfo=NEW_YORK))  # hydration (Mar 4) is overdue
    patch_new_phone(client, eid)
    run_until_idle(delivery, until=datetime(2026, 3, 12, tzinfo=NEW_YORK))
    texts = sms_to(outbox, NEW_PHONE)
    assert [(t["id"], t["step"]) for t in texts[:3]] == [
        (f"{eid}.intro.sms.1", "intro"),
        (f"{eid}.hydration.sms.1", "hydration"),
        (f"{eid}.sleep.sms.1", "sleep"),
    ]
    assert introduces(texts[0]) and texts[0]["local_time"][:16] == "2026-03-06T12:00"
    assert texts[1]["local_time"][:16] == "2026-03-07T08:00"  # 1 SMS a local day: the next allowed morning
    history = client.get(f"/v1/enrollments/{eid}/messages").json()["messages"]
    intro = next(m for m in history if m["id"] == f"{eid}.intro.sms.1")
    assert (intro["step"], intro["state"], intro["attempts"]) == ("intro", "sent", 1)
    # A second new number: the second introduction.
    clock.set(datetime(2026, 3, 13, 12, 0, tzinfo=NEW_YORK))
    patch_new_phone(client, eid, "+14155552673")
    run_until_idle(delivery, until=datetime(2026, 3, 14, tzinfo=NEW_YORK))
    third = sms_to(outbox, "+14155552673")
    assert third and third[0]["id"] == f"{eid}.intro.sms.2" and introduces(third[0])


def test_each_introduction_goes_once_even_when_its_batch_runs_twice(
    client: TestClient, delivery: DeliveryDeps, clock: FixedClock, outbox: Path
) -> None:
    eid = client.post("/v1/enrollments", json=enrollment_body(channels=["sms"], email=None)).json()["id"]
    send_due(delivery)
    clock.set(datetime(2026, 3, 6, 12, 0, tzinfo=NEW_YORK))
    patch_new_phone(client, eid)
    handed: list[tuple[str, list[str]]] = []
    dispatch_once(delivery, lambda channel, handles: handed.append((channel, handles)))
    for _ in range(2):  # a redelivered task runs the same claim again
        for channel, handles in handed:
            send_batch(delivery, channel, handles)
    assert [t["id"] for t in sms_to(outbox, NEW_PHONE)] == [f"{eid}.intro.sms.1"]


def test_no_introduction_when_the_next_sms_is_the_programs_first(
    client: TestClient, delivery: DeliveryDeps, clock: FixedClock, outbox: Path
) -> None:
    """SMS added before the program starts: the welcome names the clinic and the keywords itself."""
    body = enrollment_body(channels=["email"], phone=None, start_at="2026-03-05T15:00:00Z")
    eid = client.post("/v1/enrollments", json=body).json()["id"]
    patch = {"channels": ["email", "sms"], "phone": PATIENT_PHONE,
             "consent": {"sms": True, "recorded_at": "2026-03-02T14:00:00Z"}}  # fmt: skip
    assert client.patch(f"/v1/enrollments/{eid}", json=patch).status_code == 200
    run_until_idle(delivery, until=datetime(2026, 3, 6, tzinfo=NEW_YORK))
    texts = sms_to(outbox, PATIENT_PHONE)
    assert [t["step"] for t in texts] == ["welcome"] and introduces(texts[0])


def test_a_new_number_before_the_welcome_went_needs_no_introduction(
    client: TestClient, delivery: DeliveryDeps, outbox: Path
) -> None:
    eid = client.post("/v1/enrollments", json=enrollment_body(channels=["sms"], email=None)).json()["id"]
    patch_new_phone(client, eid)  # before any dispatch: the welcome goes to the new number
    send_due(delivery)
    assert [t["step"] for t in sms_to(outbox, NEW_PHONE)] == ["welcome"]
    assert sms_to(outbox, PATIENT_PHONE) == []


def test_the_introduction_speaks_the_patients_language(
    client: TestClient, delivery: DeliveryDeps, clock: FixedClock, outbox: Path
) -> None:
    eid = client.post("/v1/enrollments", json=enrollment_body(channels=["sms"], email=None, language="es")).json()["id"]
    send_due(delivery)
    clock.set(datetime(2026, 3, 6, 12, 0, tzinfo=NEW_YORK))
    patch_new_phone(client, eid)
    run_until_idle(delivery, until=datetime(2026, 3, 7, tzinfo=NEW_YORK))
    first = sms_to(outbox, NEW_PHONE)[0]
    assert first["step"] == "intro" and first["language"] == "es"
    assert CLINIC_NAME in first["body"] and "Responde STOP para cancelar, HELP para ayuda" in first["body"]


def test_a_lesson_claimed_before_the_number_changed_waits_for_the_introduction(
    client: TestClient, delivery: DeliveryDeps, clock: FixedClock, store: Store
) -> None:
    """The send path's own check (begin_send.lua): nothing but the introduction goes to a number
    waiting for one, even a lesson triaged before the PATCH."""
    eid = client.post("/v1/enrollments", json=enrollment_body(channels=["sms"], email=None)).json()["id"]
    send_due(delivery)
    clock.set(datetime(2026, 3, 6, 12, 0, tzinfo=NEW_YORK))
    patch_new_phone(client, eid)
    batch = store.batch()
    lesson = batch.begin_send(f"{eid}.hydration.sms.1", cursor=1, now=clock.now(), stale_s=300)
    batch.run()
    assert lesson.value.status is BeginStatus.INTRO
    assert store.record(f"{eid}.hydration.sms.1") is None  # nothing taken, nothing marked
