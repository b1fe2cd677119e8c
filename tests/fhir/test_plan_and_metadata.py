"""The program as a PlanDefinition (one action per step, with its timing) and the CapabilityStatement,
which lists exactly the routes the API serves."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.api.conftest import BASE_URL
from tests.fhir.conftest import issue, load, parses, post
from worker.deps import EngineDeps


def test_program_as_plan_definition_with_each_step_timed(client: TestClient, engine: EngineDeps) -> None:
    response = client.get("/fhir/r4/PlanDefinition/twitching")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    plan = response.json()
    parses(plan)
    program = engine.catalog.get("twitching")
    assert plan["url"] == f"{BASE_URL}/fhir/r4/PlanDefinition/twitching"
    assert plan["title"] == program.name
    assert [a["id"] for a in plan["action"]] == [s.id for s in program.steps]
    welcome, hydration = plan["action"][0], plan["action"][1]
    assert welcome["timingDuration"] == {
        "value": 0,
        "unit": "minutes",
        "system": "http://unitsofmeasure.org",
        "code": "min",
    }
    assert hydration["timingTiming"]["repeat"] == {"count": 1, "timeOfDay": ["10:00:00"]}
    assert hydration["timingTiming"]["extension"][0]["valueInteger"] == 2
    assert {c["coding"][1]["code"] for c in hydration["code"]} == {"sms", "email"}


def test_the_canonical_url_enrolls_in_that_program(client: TestClient) -> None:
    """A CarePlan's instantiatesCanonical is the PlanDefinition's url."""
    url = client.get("/fhir/r4/PlanDefinition/twitching").json()["url"]
    plan = load("careplan-example.json")
    plan["instantiatesCanonical"] = [url]
    made = post(client, "CarePlan", plan, 201).json()
    assert made["instantiatesCanonical"] == [url]
    assert client.get(f"/v1/enrollments/{made['id']}").json()["program"] == "twitching"


def test_unknown_program_is_404(client: TestClient) -> None:
    for program in ("nope", "../etc", "TWITCHING"):
        response = client.get(f"/fhir/r4/PlanDefinition/{program}")
        assert response.status_code == 404
        assert issue(response)["code"] == "not-found"


def test_capability_statement_lists_exactly_what_is_served(anon: TestClient, client: TestClient) -> None:
    response = anon.get("/fhir/r4/metadata")
    assert response.status_code == 200
    cap = response.json()
    parses(cap)
    assert cap["fhirVersion"] == "4.0.1"
    assert "application/fhir+json" in cap["format"]
    rest = cap["rest"][0]
    served = {r["type"]: sorted(i["code"] for i in r["interaction"]) for r in rest["resource"]}
    assert served == {
        "CarePlan": ["create", "patch", "read", "update"],
        "Communication": ["read", "search-type"],
        "PlanDefinition": ["read"],
    }
    assert [p["name"] for p in rest["resource"][1]["searchParam"]] == ["based-on"]
    assert rest["interaction"] == [{"code": "transaction"}]
    # what is not listed is not served
    assert client.get("/fhir/r4/Patient/1").status_code == 404
    deleted = client.delete("/fhir/r4/CarePlan/1")
    assert (deleted.status_code, issue(deleted)["code"]) == (405, "not-supported")
    assert client.get("/fhir/r4/PlanDefinition?url=x").status_code in (404, 405)
