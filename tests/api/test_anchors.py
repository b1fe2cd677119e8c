"""Anchor dates through the HTTP API: given at enrollment, validated against the program's declared
anchors (422 naming `anchors.<name>`), sealed at rest, and moved by PATCH with every pending step
retimed; the catch-up policy skips what an earlier visit left behind."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.api.conftest import enrollment_body, send_due
from worker.clock import FixedClock
from worker.delivery.types import DeliveryDeps
from worker.store import Store
from worker.store.keys import enrollment_key

VISIT = "2026-03-12T15:00:00-04:00"  # New York, after the 8 March DST change; the clock is 2 March 10:00


def visit_body(**overrides: Any) -> dict[str, Any]:
    return enrollment_body(program="visit-prep", anchors={"visit": VISIT}, **overrides)


def test_enroll_with_a_visit_shows_it_and_times_steps_from_it(client: TestClient, delivery: DeliveryDeps) -> None:
    response = client.post("/v1/enrollments", json=visit_body())
    assert response.status_code == 201, response.text
    enrolled = response.json()
    assert enrolled["anchors"] == {"visit": "2026-03-12T19:00:00+00:00"}
    assert enrolled["next_message_at"] == "2026-03-02T15:00:00+00:00"  # the welcome, at once
    send_due(delivery)
    again = client.get(f"/v1/enrollments/{enrolled['id']}").json()
    assert again["anchors"] == enrolled["anchors"]
    assert again["next_message_at"] == "2026-03-09T14:00:00+00:00"  # notes: 3 days before, 10:00 EDT


def test_anchors_are_sealed_not_plain(client: TestClient, store: Store) -> None:
    eid = client.post("/v1/enrollments", json=visit_body()).json()["id"]
    stored = store.redis.hgetall(enrollment_key(eid))
    assert "an" not in stored and "x" in stored
    visit_epoch = "1773342000"  # 2026-03-12T19:00:00Z
    assert all(visit_epoch not in value and "2026-03-12" not in value for value in stored.values())


@pytest.mark.parametrize(
    ("overrides", "loc", "words"),
    [
        ({"anchors": None}, ["body", "anchors", "visit"], "required"),
        ({"anchors": {}}, ["body", "anchors", "visit"], "required"),
        ({"anchors": {"visit": VISIT, "surgery": VISIT}}, ["body", "anchors", "surgery"], "its anchors: visit"),
        ({"anchors": {"visit": "2026-03-12T15:00:00"}}, ["body", "anchors", "visit"], "offset"),
        ({"anchors": {"visit": "next tuesday"}}, ["body", "anchors", "visit"], ""),
        ({"anchors": {"visit": "2029-01-01T00:00:00Z"}}, ["body", "anchors", "visit"], "730 days"),
        ({"anchors": {"visit": "2024-01-01T00:00:00Z"}}, ["body", "anchors", "visit"], "365 days"),
        ({"program": "twitching"}, ["body", "anchors", "visit"], "its anchors: none"),
    ],
)
def test_bad_anchors_are_422_naming_the_anchor(
    client: TestClient, store: Store, overrides: dict[str, Any], loc: list[str], words: str
) -> None:
    body = visit_body()
    for key, value in overrides.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    response = client.post("/v1/enrollments", json=body)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert any(e["loc"] == loc and words in e["msg"] for e in errors), errors
    assert list(store.redis.scan_iter("cd:{e:*")) == []


def test_patch_moves_the_visit_and_retimes_the_pending_step(client: TestClient, delivery: DeliveryDeps) -> None:
    eid = client.post("/v1/enrollments", json=visit_body()).json()["id"]
    send_due(delivery)  # the welcome
    response = client.patch(f"/v1/enrollments/{eid}", json={"anchors": {"visit": "2026-03-20T09:00:00-04:00"}})
    assert response.status_code == 200, response.text
    assert response.json()["anchors"] == {"visit": "2026-03-20T13:00:00+00:00"}
    assert response.json()["next_message_at"] == "2026-03-17T14:00:00+00:00"
    # explain names the rule that moved them: the steps timed from the visit, not the welcome
    rules = {m["step"]: m["rule"] for m in client.get(f"/v1/enrollments/{eid}/schedule").json()["messages"]
             if m["channel"] == "sms"}  # fmt: skip
    assert rules["welcome"] is None
    assert {step: rule for step, rule in rules.items() if step != "welcome"} == {
        "notes": "anchor", "medicines-list": "anchor", "after-visit": "anchor"
    }  # fmt: skip


def test_bad_patch_of_an_anchor_changes_nothing(client: TestClient) -> None:
    enrolled = client.post("/v1/enrollments", json=visit_body()).json()
    for anchors, loc in (({"surgery": VISIT}, "surgery"), ({"visit": "2026-03-20T09:00:00"}, "visit")):
        response = client.patch(f"/v1/enrollments/{enrolled['id']}", json={"anchors": anchors})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "anchors", loc]
    assert client.get(f"/v1/enrollments/{enrolled['id']}").json() == enrolled


def test_visit_moved_earlier_skips_what_it_left_behind(
    client: TestClient, delivery: DeliveryDeps, clock: FixedClock
) -> None:
    """visit-prep's policy is `latest`: of the two reminders now past, only the later one goes."""
    eid = client.post("/v1/enrollments", json=visit_body(channels=["email"], phone=None)).json()["id"]
    send_due(delivery)  # the welcome
    response = client.patch(f"/v1/enrollments/{eid}", json={"anchors": {"visit": "2026-03-02T09:00:00-05:00"}})
    assert response.json()["next_message_at"] == "2026-02-27T15:00:00+00:00"  # notes: past, due at once
    for _ in range(3):
        send_due(delivery)
    messages = {m["step"]: m for m in client.get(f"/v1/enrollments/{eid}/messages").json()["messages"]}
    assert (messages["notes"]["state"], messages["notes"]["reason"]) == ("skipped", "late")
    assert messages["medicines-list"]["state"] == "sent"
    assert "after-visit" not in messages  # 7 March: still to come
    schedule = client.get(f"/v1/enrollments/{eid}/schedule").json()["messages"]
    notes = next(m for m in schedule if m["step"] == "notes")
    assert notes["rule"] == "catch_up"
