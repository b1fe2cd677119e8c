"""Enrolling over FHIR: HL7's example CarePlan and transaction Bundle shapes, through the real API
and the engine; what caredrip answers parses with the R4 models and matches /v1's view."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.testclient import TestClient

from tests.api.conftest import BASE_URL
from tests.fhir.conftest import FHIR_JSON, contained, issue, load, parses, post
from worker.store import Store


def v1(client: TestClient, eid: str) -> dict[str, Any]:
    response = client.get(f"/v1/enrollments/{eid}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_hl7_careplan_with_its_patient_contained_enrolls(client: TestClient) -> None:
    response = post(client, "CarePlan", load("careplan-example.json"), 201)
    plan = response.json()
    assert response.headers["location"] == f"{BASE_URL}/fhir/r4/CarePlan/{plan['id']}"
    assert (plan["status"], plan["intent"]) == ("active", "plan")
    assert plan["instantiatesCanonical"] == [f"{BASE_URL}/fhir/r4/PlanDefinition/twitching"]
    assert plan["period"]["start"] == "2026-03-02T15:00:00+00:00"
    enrollment = v1(client, plan["id"])
    # The mapping, as caredrip stored it: MR identifier, name[0].given[0], the mobile (rank 2; the
    # work phone of rank 1 takes no SMS), the timezone extension, en-AU -> en, the SMS Consent only.
    assert {k: enrollment[k] for k in ("patient_ref", "first_name", "phone", "email", "channels")} == {
        "patient_ref": "12345",
        "first_name": "Peter",
        "phone": "+61491570156",
        "email": None,
        "channels": ["sms"],
    }
    assert (enrollment["timezone"], enrollment["language"], enrollment["program"]) == (
        "Australia/Melbourne",
        "en",
        "twitching",
    )
    assert enrollment["consent"] == {"sms": {"recorded_at": "2026-02-19T22:30:00+00:00"}}
    patient = contained(plan, "Patient")
    assert patient["identifier"] == [{"value": "12345"}]
    assert patient["telecom"] == [{"system": "sms", "value": "+61491570156", "use": "mobile", "rank": 1}]
    assert plan["subject"] == {"reference": f"#{patient['id']}"}


def test_the_same_careplan_again_answers_200_with_the_same_careplan(client: TestClient) -> None:
    first = post(client, "CarePlan", load("careplan-example.json"), 201).json()
    again = post(client, "CarePlan", load("careplan-example.json"), 200)
    assert again.json() == first
    assert again.headers["location"].endswith(f"/CarePlan/{first['id']}")


def test_a_careplan_caredrip_answered_can_be_posted_back_unchanged(client: TestClient) -> None:
    """Round trip: caredrip's own CarePlan maps back to the same enrollment."""
    plan = post(client, "CarePlan", load("careplan-example.json"), 201).json()
    again = post(client, "CarePlan", plan, 200).json()
    assert again == plan


def test_transaction_bundle_enrolls_with_both_channels(client: TestClient) -> None:
    response = post(client, "Bundle", load("bundle-transaction.json"), 201)
    plan = response.json()
    assert response.headers["location"] == f"{BASE_URL}/fhir/r4/CarePlan/{plan['id']}"
    enrollment = v1(client, plan["id"])
    assert enrollment["channels"] == ["sms", "email"]
    assert (enrollment["phone"], enrollment["email"]) == ("+61491570156", "peter.chalmers@example.org")
    # another server's PlanDefinition URL names the program by its last segment
    assert enrollment["program"] == "twitching"
    consents = [c for c in plan["contained"] if c["resourceType"] == "Consent"]
    assert sorted(c["category"][0]["coding"][0]["code"] for c in consents) == ["email", "sms"]


def test_bundle_and_careplan_for_the_same_patient_and_program_are_one_enrollment(client: TestClient) -> None:
    first = post(client, "CarePlan", load("careplan-example.json"), 201).json()
    second = post(client, "Bundle", load("bundle-transaction.json"), 200).json()
    assert second["id"] == first["id"]


def test_transaction_at_the_base_answers_a_transaction_response(client: TestClient) -> None:
    answer = post(client, "", load("bundle-transaction.json"), 200).json()
    assert answer["type"] == "transaction-response"
    entry = answer["entry"][0]
    assert entry["response"]["status"] == "201 Created"
    assert entry["response"]["location"] == f"CarePlan/{entry['resource']['id']}"
    again = post(client, "", load("bundle-transaction.json"), 200).json()
    assert again["entry"][0]["response"]["status"] == "200 OK"


def test_a_date_alone_starts_at_midnight_in_the_patients_zone(client: TestClient) -> None:
    plan = load("careplan-example.json")
    plan["period"] = {"start": "2026-03-03"}
    made = post(client, "CarePlan", plan, 201).json()
    start = datetime.fromisoformat(made["period"]["start"])
    assert start == datetime(2026, 3, 2, 13, 0, tzinfo=UTC)  # 00:00 in Melbourne (UTC+11)


def test_read_careplan_and_another_clinics_is_404(
    client: TestClient, api: Any, other_clinic: tuple[str, str], anon: TestClient
) -> None:
    plan = post(client, "CarePlan", load("careplan-example.json"), 201).json()
    read = client.get(f"/fhir/r4/CarePlan/{plan['id']}")
    assert read.status_code == 200
    assert read.json() == plan
    with TestClient(api, base_url=BASE_URL, headers={"Authorization": f"Bearer {other_clinic[1]}"}) as other:
        for path in (f"CarePlan/{plan['id']}", f"Communication?based-on=CarePlan/{plan['id']}"):
            response = other.get(f"/fhir/r4/{path}")
            assert response.status_code == 404
            assert issue(response)["code"] == "not-found"
        patched = other.patch(
            f"/fhir/r4/CarePlan/{plan['id']}", json=[{"op": "replace", "path": "/status", "value": "revoked"}]
        )
        assert (patched.status_code, issue(patched)["code"]) == (404, "not-found")
    assert client.get("/fhir/r4/CarePlan/nope").status_code == 404


def test_without_a_key_every_fhir_route_but_metadata_is_401_operation_outcome(anon: TestClient, store: Store) -> None:
    for method, path in [
        ("POST", "CarePlan"),
        ("POST", "Bundle"),
        ("GET", "CarePlan/abc"),
        ("PUT", "CarePlan/abc"),
        ("PATCH", "CarePlan/abc"),
        ("GET", "Communication?based-on=CarePlan/abc"),
        ("GET", "Communication/abc.welcome.sms.1"),
        ("GET", "PlanDefinition/twitching"),
    ]:
        response = anon.request(method, f"/fhir/r4/{path}", json=load("careplan-example.json"), headers=FHIR_JSON)
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert issue(response)["code"] == "login"
    garbled = anon.post("/fhir/r4/CarePlan", content=b"{nope", headers=FHIR_JSON)
    assert garbled.status_code == 401  # nothing about the body is told before the key is checked
    assert [str(k) for k in store.redis.scan_iter("cd:{e:*")] == []
    assert anon.get("/fhir/r4/metadata").status_code == 200


def test_answers_parse_as_r4_resources(client: TestClient) -> None:
    plan = post(client, "CarePlan", load("careplan-example.json"), 201).json()
    model = parses(plan)
    assert model.contained[0].get_resource_type() == "Patient"
