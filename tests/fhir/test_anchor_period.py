"""A CarePlan for a program timed from one anchor: `period.start` is that anchor (the visit), not
the start; without it, 422 naming the element the anchor comes from."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.fhir.conftest import issue, load, post

VISIT_PREP = "http://testserver/fhir/r4/PlanDefinition/visit-prep"


def test_period_start_is_the_visit_of_visit_prep(client: TestClient) -> None:
    plan = load("careplan-example.json")
    plan["instantiatesCanonical"] = [VISIT_PREP]
    plan["period"] = {"start": "2026-03-12T15:00:00+11:00"}
    created = post(client, "CarePlan", plan, 201).json()
    enrollment = client.get(f"/v1/enrollments/{created['id']}").json()
    assert enrollment["program"] == "visit-prep"
    assert enrollment["anchors"] == {"visit": "2026-03-12T04:00:00+00:00"}
    assert enrollment["created_at"] == "2026-03-02T15:00:00+00:00"  # started now: the period was the visit


def test_no_period_start_names_the_missing_visit(client: TestClient) -> None:
    plan = load("careplan-example.json")
    plan["instantiatesCanonical"] = [VISIT_PREP]
    del plan["period"]
    found = issue(post(client, "CarePlan", plan, 422))
    assert "anchors.visit" in found["diagnostics"]
