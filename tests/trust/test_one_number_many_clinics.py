"""One number, many clinics (issue 13, items 1-3): repeats change nothing, replies follow the latest
message the number received, and caps count per number, not per enrollment."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from starlette.testclient import TestClient

from tests.api.conftest import CLINIC_NAME, PATIENT_PHONE, enrollment_body, send_due
from tests.support.engine import outbox_lines, run_until_idle
from tests.trust.helpers import as_clinic, inbound
from worker.clock import FixedClock
from worker.delivery.types import DeliveryDeps
from worker.deps import EngineDeps
from worker.inbox import unmatched

NEW_YORK = ZoneInfo("America/New_York")
OTHER_NAME = "Hillside Clinic"


def sms_to(outbox: Path, number: str = PATIENT_PHONE) -> list[dict[str, Any]]:
    return [m for m in outbox_lines(outbox) if m["channel"] == "sms" and m["to"] == number]


def replies(client: TestClient) -> list[dict[str, Any]]:
    """The clinic's inbox, as it reads it (GET /v1/replies)."""
    response = client.get("/v1/replies")
    assert response.status_code == 200, response.text
    return response.json()["replies"]  # type: ignore[no-any-return]


def help_text(anon: TestClient) -> str:
    response = inbound(anon, "HELP")
    assert response.status_code == 200
    return str(response.text)


def test_a_repeated_enrollment_by_another_clinic_does_not_take_the_number(
    api: FastAPI,
    client: TestClient,
    anon: TestClient,
    other_clinic: tuple[str, str],
    delivery: DeliveryDeps,
) -> None:
    assert client.post("/v1/enrollments", json=enrollment_body()).status_code == 201
    send_due(delivery)  # clinic A's welcome reaches the number
    with as_clinic(api, other_clinic[1]) as other:
        body = enrollment_body(patient_ref="hill-7")
        assert other.post("/v1/enrollments", json=body).status_code == 201
        assert other.post("/v1/enrollments", json=body).status_code == 200  # the repeat
        # Nothing from clinic B has reached the number: HELP and replies still belong to clinic A.
        assert CLINIC_NAME in help_text(anon)
        assert OTHER_NAME not in help_text(anon)
        inbound(anon, "my arm keeps twitching")
        assert len(replies(client)) == 1
        assert replies(other) == []


def test_replies_follow_the_clinic_whose_message_arrived_last(
    api: FastAPI,
    client: TestClient,
    anon: TestClient,
    other_clinic: tuple[str, str],
    delivery: DeliveryDeps,
    clock: FixedClock,
    outbox: Path,
) -> None:
    client.post("/v1/enrollments", json=enrollment_body(channels=["sms"], email=None))
    send_due(delivery)
    with as_clinic(api, other_clinic[1]) as other:
        other.post("/v1/enrollments", json=enrollment_body(patient_ref="hill-7", channels=["sms"], email=None))
        assert CLINIC_NAME in help_text(anon)
        # The next morning clinic B's welcome (held by the number's daily cap) goes out.
        clock.set(datetime(2026, 3, 3, 8, 30, tzinfo=NEW_YORK))
        send_due(delivery)
        assert [OTHER_NAME in m["body"] for m in sms_to(outbox)] == [False, True]
        assert OTHER_NAME in help_text(anon)
        inbound(anon, "who is this?")
        assert len(replies(other)) == 1
        assert replies(client) == []


def test_a_reply_from_a_number_no_clinic_texted_goes_to_the_operators(
    anon: TestClient, client: TestClient, engine: EngineDeps
) -> None:
    assert inbound(anon, "hello?", sender="+14155559999").status_code == 200
    assert len(unmatched(engine)) == 1
    assert replies(client) == []


def test_two_enrollments_to_one_number_stay_within_the_caps(
    api: FastAPI,
    client: TestClient,
    other_clinic: tuple[str, str],
    delivery: DeliveryDeps,
    outbox: Path,
) -> None:
    client.post("/v1/enrollments", json=enrollment_body(channels=["sms"], email=None))
    with as_clinic(api, other_clinic[1]) as other:
        other.post("/v1/enrollments", json=enrollment_body(patient_ref="hill-7", channels=["sms"], email=None))
    run_until_idle(delivery, max_ticks=5000)
    sent = sms_to(outbox)
    # Never dropped: each enrollment's 11 SMS steps arrive exactly once.
    per_enrollment = Counter((m["enrollment_id"], m["step"]) for m in sent)
    assert len(per_enrollment) == 22 and set(per_enrollment.values()) == {1}
    # Within the caps for the person holding the phone: 1 a local day, 3 in any 7 x 24 hours.
    times = sorted(datetime.fromisoformat(m["sent_at"]) for m in sent)
    days = Counter(t.astimezone(NEW_YORK).date() for t in times)
    assert max(days.values()) == 1
    for i, t in enumerate(times):
        assert sum(1 for u in times[i:] if u - t < timedelta(days=7)) <= 3, t
