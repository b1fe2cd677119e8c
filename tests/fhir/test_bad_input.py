"""Bad FHIR input: an OperationOutcome naming the element (`issue.expression`), the right status,
and nothing stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.fhir.conftest import FHIR_JSON, issue, load
from worker.store import Store

Change = Callable[[dict[str, Any]], Any]
PATIENT = 1  # index of the Patient in careplan-example.json's contained
CONSENT = 2


def patient(plan: dict[str, Any]) -> dict[str, Any]:
    return plan["contained"][PATIENT]  # type: ignore[no-any-return]


def _set(path: list[str | int], value: Any) -> Change:
    def change(plan: dict[str, Any]) -> None:
        node: Any = plan
        for key in path[:-1]:
            node = node[key]
        if value is None:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    return change


CASES: list[tuple[str, Change, int, str]] = [
    ("missing telecom", _set(["contained", PATIENT, "telecom"], None), 422, "Patient.telecom"),
    ("not a mobile number", _set(["contained", PATIENT, "telecom", 2, "value"], "12"), 422, "Patient.telecom[2].value"),
    ("telecom value not a string", _set(["contained", PATIENT, "telecom", 2, "value"], 7), 400,
     "CarePlan.contained[1].telecom[2].value"),
    ("bad status", _set(["status"], "bogus"), 400, "CarePlan.status"),
    ("status not active", _set(["status"], "draft"), 422, "CarePlan.status"),
    ("unknown program", _set(["instantiatesCanonical"], ["http://x.org/PlanDefinition/nope"]), 422,
     "CarePlan.instantiatesCanonical"),
    ("no program", _set(["instantiatesCanonical"], None), 422, "CarePlan.instantiatesCanonical"),
    ("no identifier", _set(["contained", PATIENT, "identifier"], None), 422, "Patient.identifier"),
    ("no name", _set(["contained", PATIENT, "name"], None), 422, "Patient.name"),
    ("no time zone", _set(["contained", PATIENT, "extension"], None), 422, "Patient.extension"),
    ("an alias time zone", _set(["contained", PATIENT, "extension", 0, "valueCode"], "US/Eastern"), 422,
     "Patient.extension[0].valueCode"),
    ("a language no program speaks",
     _set(["contained", PATIENT, "communication", 0, "language", "coding", 0, "code"], "fr-FR"), 422,
     "Patient.communication[0].language.coding[0].code"),
    ("no consent", lambda plan: plan["contained"].pop(CONSENT), 422, "CarePlan.contained"),
    ("consent denied", _set(["contained", CONSENT, "provision", "type"], "deny"), 422, "CarePlan.contained"),
    ("consent not active", _set(["contained", CONSENT, "status"], "inactive"), 422, "CarePlan.contained"),
    ("consent without a time", _set(["contained", CONSENT, "dateTime"], None), 422, "Consent.dateTime"),
    ("consent recorded in the future", _set(["contained", CONSENT, "dateTime"], "2027-01-01T00:00:00Z"), 422,
     "Consent.dateTime"),
    ("subject not the contained patient", _set(["subject"], {"reference": "Patient/example"}), 422,
     "CarePlan.subject"),
    ("start too far ahead", _set(["period"], {"start": "2030-01-01T00:00:00Z"}), 422, "CarePlan.period.start"),
    ("start without an offset", _set(["period"], {"start": "2026-03-03T10:00:00"}), 400, "CarePlan.period.start"),
    ("an unknown element", _set(["colour"], "blue"), 400, "CarePlan.colour"),
    ("wrong resource", lambda plan: plan.update(resourceType="Patient"), 400, "resourceType"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "status", "expression"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_careplan_answers_operation_outcome_naming_the_element(
    client: TestClient, store: Store, change: Change, status: int, expression: str
) -> None:
    plan = load("careplan-example.json")
    change(plan)
    response = client.post("/fhir/r4/CarePlan", json=plan, headers=FHIR_JSON)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    found = issue(response)
    assert found["severity"] == "error"
    assert expression in found["expression"], found
    assert [str(k) for k in store.redis.scan_iter("cd:{e:*")] == []


def test_the_patients_own_path_comes_first_then_the_path_in_the_posted_careplan(client: TestClient) -> None:
    plan = load("careplan-example.json")
    patient(plan)["telecom"][2]["value"] = "+6149157"
    found = issue(client.post("/fhir/r4/CarePlan", json=plan, headers=FHIR_JSON))
    assert found["expression"] == ["Patient.telecom[2].value", "CarePlan.contained[1].telecom[2].value"]


BUNDLE_CASES: list[tuple[str, Change, int, str]] = [
    ("a batch", _set(["type"], "batch"), 422, "Bundle.type"),
    ("no careplan", lambda b: b["entry"].pop(), 422, "Bundle.entry"),
    ("subject not the bundle's patient", _set(["entry", 1, "resource", "subject"], {"reference": "urn:uuid:0"}), 422,
     "CarePlan.subject"),
    ("missing telecom", _set(["entry", 0, "resource", "telecom"], None), 422, "Bundle.entry[0].resource.telecom"),
    ("an entry caredrip does not take",
     lambda b: b["entry"].append({"resource": {"resourceType": "Observation", "status": "final", "code": {}}}), 422,
     "Bundle.entry[2].resource"),
    ("unparseable entry", _set(["entry", 0, "resource", "birthDate"], "Christmas"), 400,
     "Bundle.entry[0].resource.birthDate"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "status", "expression"), [c[1:] for c in BUNDLE_CASES], ids=[c[0] for c in BUNDLE_CASES]
)
def test_bad_bundle_answers_operation_outcome_naming_the_element(
    client: TestClient, store: Store, change: Change, status: int, expression: str
) -> None:
    bundle = load("bundle-transaction.json")
    change(bundle)
    response = client.post("/fhir/r4/Bundle", json=bundle, headers=FHIR_JSON)
    assert response.status_code == status, response.text
    assert expression in issue(response)["expression"]
    assert [str(k) for k in store.redis.scan_iter("cd:{e:*")] == []


def test_a_body_that_is_not_json_is_400_and_another_media_type_415(client: TestClient) -> None:
    bad = client.post("/fhir/r4/CarePlan", content=b"{nope", headers=FHIR_JSON)
    assert (bad.status_code, issue(bad)["code"]) == (400, "structure")
    xml = client.post("/fhir/r4/CarePlan", content=b"<CarePlan/>", headers={"Content-Type": "application/fhir+xml"})
    assert (xml.status_code, issue(xml)["code"]) == (415, "not-supported")


def test_an_unknown_fhir_route_is_404_operation_outcome(client: TestClient) -> None:
    response = client.get("/fhir/r4/Observation/1")
    assert response.status_code == 404
    assert issue(response)["code"] == "not-found"
    assert client.get("/v1/nope").json() == {"detail": "Not Found"}  # /v1 keeps its own shape
