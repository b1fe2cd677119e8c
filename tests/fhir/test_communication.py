"""Writing back what was sent: each message record as a Communication (search by based-on, read by
id), the text matching what the outbox channel was handed, opt-outs as not-done with a reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.api.conftest import BASE_URL, send_due, twilio_post
from tests.fhir.conftest import issue, load, parses, post
from tests.support.engine import outbox_lines
from worker.clock import FixedClock
from worker.delivery.types import DeliveryDeps
from worker.fhir.communication import STATUS, communication
from worker.records import Enrollment, EnrollmentState, MessageRecord, MessageState
from worker.store import ClinicStore

PHONE = "+61491570156"  # the fixtures' mobile number
WELCOME_SENT_AT = datetime(2026, 3, 2, 21, 0, tzinfo=UTC)  # 08:00 in Melbourne: quiet hours end


def search(client: TestClient, eid: str) -> dict[str, Any]:
    response = client.get(f"/fhir/r4/Communication?based-on=CarePlan/{eid}")
    assert response.status_code == 200, response.text
    bundle = response.json()
    parses(bundle)
    for entry in bundle["entry"]:
        parses(entry["resource"])
    return bundle  # type: ignore[no-any-return]


@pytest.fixture
def sender(delivery: DeliveryDeps, clinic_store: ClinicStore) -> DeliveryDeps:
    """Delivery that fills templates with the API clinic's own name and phone, as production does."""
    return replace(delivery, clinics=clinic_store.get)


def test_each_message_sent_is_a_completed_communication_with_the_text_sent(
    client: TestClient, sender: DeliveryDeps, clock: FixedClock, outbox: Path
) -> None:
    eid = post(client, "Bundle", load("bundle-transaction.json"), 201).json()["id"]
    assert search(client, eid)["entry"] == []
    clock.set(WELCOME_SENT_AT)
    send_due(sender)
    handed = {(line["step"], line["channel"]): line for line in outbox_lines(outbox)}
    assert set(handed) == {("welcome", "sms"), ("welcome", "email")}
    bundle = search(client, eid)
    assert (bundle["type"], bundle["total"]) == ("searchset", 2)
    by_url = client.get(f"/fhir/r4/Communication?based-on={BASE_URL}/fhir/r4/CarePlan/{eid}").json()
    assert by_url["entry"] == bundle["entry"]
    by_channel = {e["resource"]["medium"][0]["coding"][1]["code"]: e for e in bundle["entry"]}
    for channel, mode in (("sms", "ONLINEWRIT"), ("email", "EMAILWRIT")):
        entry = by_channel[channel]
        res = entry["resource"]
        assert entry["fullUrl"] == f"{BASE_URL}/fhir/r4/Communication/{res['id']}"
        assert res["id"] == handed[("welcome", channel)]["id"]
        assert res["status"] == "completed"
        assert res["basedOn"] == [{"reference": f"CarePlan/{eid}"}]
        assert res["subject"]["identifier"] == {"value": "12345"}
        assert res["medium"][0]["coding"][0]["code"] == mode
        assert res["sent"] == WELCOME_SENT_AT.isoformat()
        assert res["payload"] == [{"contentString": handed[("welcome", channel)]["body"]}]
        one = client.get(f"/fhir/r4/Communication/{res['id']}")
        assert one.status_code == 200
        assert one.json() == res


def test_an_sms_after_stop_is_not_done_with_the_opt_out_as_reason(
    client: TestClient, anon: TestClient, sender: DeliveryDeps, clock: FixedClock
) -> None:
    eid = post(client, "CarePlan", load("careplan-example.json"), 201).json()["id"]
    clock.set(WELCOME_SENT_AT)
    send_due(sender)
    stop = {"From": PHONE, "To": "+14155550199", "Body": "STOP", "MessageSid": "SM" + "1" * 32}
    assert twilio_post(anon, "/webhooks/twilio/inbound", stop).status_code == 200
    clock.set(datetime(2026, 3, 5, 0, 0, tzinfo=UTC))  # past day 2, 10:00 in Melbourne
    send_due(sender)
    found = {e["resource"]["topic"]["text"]: e["resource"] for e in search(client, eid)["entry"]}
    assert found["twitching: welcome"]["status"] == "completed"
    skipped = found["twitching: hydration"]
    assert skipped["status"] == "not-done"
    assert skipped["statusReason"]["coding"][0]["code"] == "opt-out"
    assert "opted out" in skipped["statusReason"]["text"]
    assert "sent" not in skipped


def test_another_clinics_or_an_unknown_communication_is_404(
    client: TestClient, api: Any, other_clinic: tuple[str, str], sender: DeliveryDeps, clock: FixedClock
) -> None:
    eid = post(client, "CarePlan", load("careplan-example.json"), 201).json()["id"]
    clock.set(WELCOME_SENT_AT)
    send_due(sender)
    mid = f"{eid}.welcome.sms.1"
    assert client.get(f"/fhir/r4/Communication/{mid}").status_code == 200
    with TestClient(api, base_url=BASE_URL, headers={"Authorization": f"Bearer {other_clinic[1]}"}) as other:
        assert other.get(f"/fhir/r4/Communication/{mid}").status_code == 404
    for missing in (f"{eid}.welcome.sms.2", "not-a-message-id", f"{eid}.welcome.fax.1"):
        response = client.get(f"/fhir/r4/Communication/{missing}")
        assert response.status_code == 404
        assert issue(response)["code"] == "not-found"


def test_search_needs_based_on_a_careplan(client: TestClient) -> None:
    for query in ("", "?based-on=Patient/1", "?subject=Patient/1"):
        response = client.get(f"/fhir/r4/Communication{query}")
        assert response.status_code == 400
        assert issue(response)["expression"] == ["based-on"]


# -- every state and reason, mapped and parsed (no HTTP) -----------------------------------------
ENROLLMENT = Enrollment(
    id="e0123456789abcdef012",
    clinic_id="c_1",
    patient_ref="12345",
    program="twitching",
    first_name="Peter",
    phone=PHONE,
    email=None,
    channels=("sms",),
    language="en",
    timezone="Australia/Melbourne",
    state=EnrollmentState.ACTIVE,
    anchor=WELCOME_SENT_AT,
    created_at=WELCOME_SENT_AT,
)
ROWS = [
    (MessageState.SENT, "", "completed", None),
    (MessageState.DELIVERED, "", "completed", None),
    (MessageState.SENDING, "", "in-progress", None),
    (MessageState.RETRYING, "held", "in-progress", "caps"),
    (MessageState.RETRYING, "20500", "in-progress", "retrying"),
    (MessageState.QUEUED, "", "preparation", None),
    (MessageState.SKIPPED, "opted_out", "not-done", "opt-out"),
    (MessageState.FAILED, "optout:21610", "not-done", "opt-out"),
    (MessageState.SKIPPED, "late", "not-done", "late"),
    (MessageState.SKIPPED, "dropped", "not-done", "channel-removed"),
    (MessageState.SKIPPED, "inactive", "not-done", "paused"),
    (MessageState.FAILED, "render_error", "not-done", "content-error"),
    (MessageState.FAILED, "30003", "not-done", "provider-refused"),
    (MessageState.UNDELIVERED, "30005", "not-done", "undelivered"),
    (MessageState.UNKNOWN, "interrupted", "unknown", None),
]


@pytest.mark.parametrize(("state", "reason", "status", "code"), ROWS, ids=[f"{r[0]}-{r[1]}" for r in ROWS])
def test_every_state_maps_to_a_communication_that_parses(
    state: MessageState, reason: str, status: str, code: str | None
) -> None:
    record = MessageRecord(ENROLLMENT.id, "welcome", "sms", 1, state, WELCOME_SENT_AT, reason=reason)
    resource = communication(ENROLLMENT, record, "Hi Peter", BASE_URL)
    model = parses(resource)
    assert model.status == status
    assert (resource.get("statusReason") or {}).get("coding", [{}])[0].get("code") == code
    if code is not None:
        assert reason in resource["statusReason"]["text"]


def test_every_message_state_has_a_communication_status() -> None:
    assert set(STATUS) == set(MessageState)
