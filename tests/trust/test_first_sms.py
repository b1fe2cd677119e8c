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
from worker.delivery.types import DeliveryDeps

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
