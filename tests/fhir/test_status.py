"""CarePlan.status by PATCH (JSON Patch) or PUT: on-hold pauses, active resumes, revoked cancels,
through the engine's own pause/resume/cancel (seen in /v1 and in the due index)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.fhir.conftest import FHIR_JSON, issue, load, parses, post

JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def enrolled(client: TestClient) -> dict[str, Any]:
    return post(client, "CarePlan", load("careplan-example.json"), 201).json()  # type: ignore[no-any-return]


def set_status(client: TestClient, eid: str, status: str) -> Any:
    ops = [{"op": "replace", "path": "/status", "value": status}]
    return client.patch(f"/fhir/r4/CarePlan/{eid}", json=ops, headers=JSON_PATCH)


def state(client: TestClient, eid: str) -> tuple[str, Any]:
    body = client.get(f"/v1/enrollments/{eid}").json()
    return body["state"], body["next_message_at"]


def test_patch_status_pauses_resumes_and_cancels(client: TestClient) -> None:
    eid = enrolled(client)["id"]
    assert state(client, eid)[1] is not None
    paused = set_status(client, eid, "on-hold")
    assert paused.status_code == 200, paused.text
    assert parses(paused.json()).status == "on-hold"
    assert state(client, eid) == ("paused", None)
    assert set_status(client, eid, "on-hold").json()["status"] == "on-hold"  # again: nothing changes
    assert set_status(client, eid, "active").json()["status"] == "active"
    assert state(client, eid)[0] == "active"
    assert state(client, eid)[1] is not None
    revoked = set_status(client, eid, "revoked").json()
    assert revoked["status"] == "revoked"
    assert "end" in revoked["period"]
    assert state(client, eid)[0] == "canceled"


def test_an_ended_careplan_cannot_be_put_back_on_hold_or_active(client: TestClient) -> None:
    eid = enrolled(client)["id"]
    set_status(client, eid, "revoked")
    for status in ("on-hold", "active"):
        response = set_status(client, eid, status)
        assert response.status_code == 409
        assert issue(response)["expression"] == ["CarePlan.status"]
    assert state(client, eid)[0] == "canceled"


def test_put_of_the_careplan_with_only_its_status_changed(client: TestClient) -> None:
    plan = enrolled(client)
    plan["status"] = "on-hold"
    response = client.put(f"/fhir/r4/CarePlan/{plan['id']}", json=plan, headers=FHIR_JSON)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "on-hold"
    assert state(client, plan["id"])[0] == "paused"


@pytest.mark.parametrize(
    ("change", "status", "expression"),
    [
        (lambda p: p.update(id="someone-else"), 400, "CarePlan.id"),
        (lambda p: p.update(instantiatesCanonical=["http://x.org/PlanDefinition/other"]), 422,
         "CarePlan.instantiatesCanonical"),
        (lambda p: p.update(status="completed"), 422, "CarePlan.status"),
        (lambda p: p.update(status="paused"), 400, "CarePlan.status"),
    ],
    ids=["other id", "other program", "completed", "not a status"],
)  # fmt: skip
def test_put_that_changes_more_than_status_is_refused(
    client: TestClient, change: Any, status: int, expression: str
) -> None:
    plan = enrolled(client)
    eid = plan["id"]
    change(plan)
    response = client.put(f"/fhir/r4/CarePlan/{eid}", json=plan, headers=FHIR_JSON)
    assert response.status_code == status, response.text
    assert expression in issue(response)["expression"]
    assert state(client, eid)[0] == "active"


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "replace", "path": "/subject", "value": {"reference": "#x"}}],
        [{"op": "remove", "path": "/status"}],
        {"op": "replace", "path": "/status", "value": "on-hold"},
        [],
    ],
    ids=["other element", "remove", "not an array", "empty"],
)
def test_patch_of_anything_but_status_is_refused(client: TestClient, ops: Any) -> None:
    eid = enrolled(client)["id"]
    response = client.patch(f"/fhir/r4/CarePlan/{eid}", json=ops, headers=JSON_PATCH)
    assert response.status_code in (400, 422)
    assert "CarePlan.status" in issue(response)["expression"] or issue(response)["expression"] == ["CarePlan"]
    assert state(client, eid)[0] == "active"
