"""GET /v1/enrollments/{id}/schedule: every message with its due time, local time, state and the
rule that moved it, derived from what is stored (worker.explain)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.testclient import TestClient

from tests.api.conftest import BASE_URL, enrollment_body, send_due
from worker.clock import FixedClock
from worker.delivery.types import DeliveryDeps

KEYS = {"step", "channel", "occurrence", "state", "due_at", "sent_at", "planned_at", "local_time", "rule", "reason",
        "attempts"}  # fmt: skip


def schedule(client: TestClient, eid: str) -> dict[str, Any]:
    answer = client.get(f"/v1/enrollments/{eid}/schedule")
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def message(result: dict[str, Any], step: str, channel: str = "sms") -> dict[str, Any]:
    found: list[dict[str, Any]] = [m for m in result["messages"] if m["step"] == step and m["channel"] == channel]
    assert len(found) == 1
    return found[0]


def test_a_new_enrollment_lists_every_message_to_come(client: TestClient, enrolled: dict[str, Any]) -> None:
    result = schedule(client, enrolled["id"])
    assert (result["enrollment_id"], result["timezone"], result["state"]) == (
        enrolled["id"],
        "America/New_York",
        "active",
    )
    assert len(result["messages"]) == 22 and all(m.keys() == KEYS for m in result["messages"])
    welcome, hydration = message(result, "welcome"), message(result, "hydration")
    assert (welcome["state"], welcome["rule"], welcome["planned_at"]) == (
        "scheduled",
        None,
        "2026-03-02T15:00:00+00:00",
    )
    assert hydration["state"] == "planned" and hydration["due_at"] == "2026-03-04T15:00:00+00:00"
    assert hydration["local_time"] == "2026-03-04T10:00:00-05:00" and hydration["rule"] is None
    local = [m["local_time"] for m in result["messages"]]
    assert local == sorted(local)


def test_sent_messages_and_quiet_hours(client: TestClient, delivery: DeliveryDeps, clock: FixedClock) -> None:
    tokyo = client.post("/v1/enrollments", json=enrollment_body(timezone="Asia/Tokyo")).json()  # 00:00 in Tokyo
    welcome = message(schedule(client, tokyo["id"]), "welcome")
    assert (welcome["rule"], welcome["due_at"]) == ("quiet_hours", "2026-03-02T15:00:00+00:00")
    assert welcome["planned_at"] == "2026-03-02T23:00:00+00:00" and welcome["local_time"].startswith("2026-03-03T08:00")
    assert "quiet hours 21:00-08:00" in welcome["reason"]
    clock.set(clock.now() + timedelta(hours=8))
    send_due(delivery)
    sent = message(schedule(client, tokyo["id"]), "welcome")
    assert (sent["state"], sent["sent_at"], sent["rule"]) == ("sent", "2026-03-02T23:00:00+00:00", "quiet_hours")


def test_a_late_send_with_no_rule_on_record_says_unknown(
    client: TestClient, enrolled: dict[str, Any], delivery: DeliveryDeps, clock: FixedClock
) -> None:
    clock.set(clock.now() + timedelta(hours=3))  # dispatch was down for three hours
    send_due(delivery)
    welcome = message(schedule(client, enrolled["id"]), "welcome")
    assert (welcome["state"], welcome["rule"]) == ("sent", "unknown")
    assert "3 h" in welcome["reason"] or "180 min" in welcome["reason"]


def test_a_pause_holds_every_message_to_come(client: TestClient, enrolled: dict[str, Any]) -> None:
    client.post(f"/v1/enrollments/{enrolled['id']}/pause")
    result = schedule(client, enrolled["id"])
    assert result["state"] == "paused"
    assert {(m["rule"], m["planned_at"]) for m in result["messages"]} == {("pause", None)}


def test_the_number_s_cap_shared_with_another_enrollment(
    client: TestClient, enrolled: dict[str, Any], delivery: DeliveryDeps
) -> None:
    send_due(delivery)  # the number's SMS of the day goes to the first enrollment
    second = client.post("/v1/enrollments", json=enrollment_body(patient_ref="p-2", channels=["sms"])).json()
    send_due(delivery)  # the second one's welcome is held by the number's day cap
    welcome = message(schedule(client, second["id"]), "welcome")
    assert welcome["rule"] == "cap" and "the number's" in welcome["reason"] and "1 sms a day" in welcome["reason"]
    assert welcome["planned_at"] is not None and welcome["planned_at"] > welcome["due_at"]


def test_another_clinic_s_enrollment_is_not_found(
    api: Any, enrolled: dict[str, Any], other_clinic: tuple[str, str]
) -> None:
    with TestClient(api, base_url=BASE_URL, headers={"Authorization": f"Bearer {other_clinic[1]}"}) as other:
        assert other.get(f"/v1/enrollments/{enrolled['id']}/schedule").status_code == 404
        assert other.get("/v1/enrollments/nope/schedule").status_code == 404
