"""The audit trail over HTTP (issue 14): every change through the API is recorded with the clinic
key that made it, a refused request records nothing, GET /v1/audit shows a clinic its own entries
only, newest first, paged; no entry holds PHI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from tests.api.conftest import BASE_URL, PATIENT_PHONE, enrollment_body
from worker.clinics import add_key
from worker.clock import FixedClock
from worker.deps import EngineDeps
from worker.intake_queue import accept
from worker.store import ClinicStore
from worker.tokens import hash_key, key_id

ENTRY_KEYS = {"id", "at", "actor", "action", "enrollment_id", "detail"}


def trail(client: TestClient, **query: Any) -> dict[str, Any]:
    response = client.get("/v1/audit", params=query)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def actions(client: TestClient, **query: Any) -> list[tuple[str, str | None]]:
    return [(e["action"], e["enrollment_id"]) for e in trail(client, **query)["entries"]]


def actor_of(clinic: tuple[str, str]) -> str:
    return f"clinic:{clinic[0]} key:{key_id(hash_key(clinic[1]))}"


def test_each_change_through_the_api_is_recorded_with_the_key_that_made_it(
    client: TestClient, clinic: tuple[str, str], clock: FixedClock
) -> None:
    created = client.post("/v1/enrollments", json=enrollment_body())
    eid = created.json()["id"]
    enrolled_at = clock.now()
    assert client.post("/v1/enrollments", json=enrollment_body()).status_code == 200  # a repeat changes nothing
    clock.advance(timedelta(minutes=5))
    patch = {"first_name": "Beatriz", "timezone": "America/Chicago", "email": "bea@example.org"}
    assert client.patch(f"/v1/enrollments/{eid}", json=patch).status_code == 200
    for action in ("pause", "pause", "resume", "cancel", "cancel"):  # the second pause and cancel change nothing
        clock.advance(timedelta(minutes=1))
        assert client.post(f"/v1/enrollments/{eid}/{action}").status_code == 200

    body = trail(client)
    entries = body["entries"]
    assert [(e["action"], e["enrollment_id"]) for e in entries] == [
        ("cancel", eid), ("resume", eid), ("pause", eid), ("update", eid), ("enroll", eid)
    ]  # fmt: skip
    assert body["next_cursor"] is None
    assert all(set(e) == ENTRY_KEYS and e["actor"] == actor_of(clinic) for e in entries)
    canceled_at = clock.now() - timedelta(minutes=1)  # the second cancel changed nothing
    assert entries[-1]["at"] == enrolled_at.isoformat() and entries[0]["at"] == canceled_at.isoformat()
    assert entries[-1]["detail"] == {}
    assert entries[3]["detail"] == {"fields": ["first_name", "email", "timezone"]}
    text = str(body)
    for phi in ("Ana", "Beatriz", "bea@example.org", "ana@example.com", PATIENT_PHONE, "p-1", "America/Chicago"):
        assert phi not in text


def test_a_re_enrollment_is_recorded_with_its_generation(client: TestClient, enrolled: dict[str, Any]) -> None:
    assert client.post(f"/v1/enrollments/{enrolled['id']}/cancel").status_code == 200
    again = client.post("/v1/enrollments", json=enrollment_body())
    assert again.status_code == 201
    entries = trail(client)["entries"]
    assert [(e["action"], e["enrollment_id"], e["detail"]) for e in entries] == [
        ("enroll", again.json()["id"], {"generation": 1}),
        ("cancel", enrolled["id"], {}),
        ("enroll", enrolled["id"], {}),
    ]


def test_a_refused_request_records_nothing(
    client: TestClient, api: FastAPI, other_clinic: tuple[str, str], enrolled: dict[str, Any]
) -> None:
    eid = enrolled["id"]
    assert client.post(f"/v1/enrollments/{eid}/cancel").status_code == 200
    before = trail(client)["entries"]
    assert client.patch(f"/v1/enrollments/{eid}", json={"timezone": "Mars/Base"}).status_code == 422
    assert client.post(f"/v1/enrollments/{eid}/pause").status_code == 409
    assert client.patch(f"/v1/enrollments/{eid}", json={"first_name": "Bea"}).status_code == 409
    assert client.post("/v1/enrollments/e0000000000000000000/cancel").status_code == 404
    assert client.delete(f"/v1/enrollments/{eid}").status_code == 400
    assert client.post("/v1/enrollments", json=enrollment_body(phone="12345")).status_code == 422
    with TestClient(api, base_url=BASE_URL, headers={"Authorization": f"Bearer {other_clinic[1]}"}) as other:
        assert other.post(f"/v1/enrollments/{eid}/resume").status_code == 404
        assert other.delete(f"/v1/enrollments/{eid}?erase=true").status_code == 404
    assert trail(client)["entries"] == before


def test_a_clinic_sees_only_its_own_entries(
    client: TestClient, api: FastAPI, other_clinic: tuple[str, str], enrolled: dict[str, Any]
) -> None:
    with TestClient(api, base_url=BASE_URL, headers={"Authorization": f"Bearer {other_clinic[1]}"}) as other:
        theirs = other.post("/v1/enrollments", json=enrollment_body(patient_ref="h-1")).json()["id"]
        assert other.post(f"/v1/enrollments/{theirs}/pause").status_code == 200
        assert actions(other) == [("pause", theirs), ("enroll", theirs)]
        assert actions(other, enrollment_id=enrolled["id"]) == []
    assert actions(client) == [("enroll", enrolled["id"])]
    assert actions(client, enrollment_id=theirs) == []
    assert client.get("/v1/audit", headers={"Authorization": "Bearer cdk_nope"}).status_code == 401


def test_pages_by_cursor_and_filters_by_enrollment(client: TestClient, clock: FixedClock) -> None:
    eids = []
    for n in range(3):
        clock.advance(timedelta(seconds=1))
        eids.append(client.post("/v1/enrollments", json=enrollment_body(patient_ref=f"p-{n}")).json()["id"])
        assert client.post(f"/v1/enrollments/{eids[-1]}/pause").status_code == 200
    everything = trail(client, limit=200)["entries"]
    assert len(everything) == 6

    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = trail(client, limit=4, **({"cursor": cursor} if cursor else {}))
        seen += page["entries"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything
    assert [e["id"] for e in everything] == sorted((e["id"] for e in everything), reverse=True)

    assert actions(client, enrollment_id=eids[1]) == [("pause", eids[1]), ("enroll", eids[1])]
    first = trail(client, enrollment_id=eids[1], limit=1)
    rest = trail(client, enrollment_id=eids[1], limit=1, cursor=first["next_cursor"])
    assert [e["action"] for e in first["entries"] + rest["entries"]] == ["pause", "enroll"]

    for bad in ("nope", "MTIz", "%%%"):
        response = client.get("/v1/audit", params={"cursor": bad})
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "cursor"]
    assert client.get("/v1/audit", params={"limit": 0}).status_code == 422


def test_entries_older_than_the_retention_period_are_dropped(
    client: TestClient, engine: EngineDeps, clock: FixedClock
) -> None:
    old = client.post("/v1/enrollments", json=enrollment_body(patient_ref="old")).json()["id"]
    clock.advance(timedelta(days=engine.retention_days - 1))
    kept = client.post("/v1/enrollments", json=enrollment_body(patient_ref="kept")).json()["id"]
    assert actions(client) == [("enroll", kept), ("enroll", old)]
    clock.advance(timedelta(days=2))
    new = client.post("/v1/enrollments", json=enrollment_body(patient_ref="new")).json()["id"]
    assert actions(client) == [("enroll", new), ("enroll", kept)]
    assert 0 < engine.store.redis.pttl("cd:audit") <= engine.retention_days * 86400 * 1000


def test_the_intake_task_and_a_new_key_are_recorded(
    client: TestClient, engine: EngineDeps, clinic_store: ClinicStore, clinic: tuple[str, str]
) -> None:
    answer = accept(engine, clinic_store, clinic[0], enrollment_body(patient_ref="q-1"), intake_id="task-1")
    refused = accept(engine, clinic_store, clinic[0], enrollment_body(phone="nope"), intake_id="task-2")
    assert "id" in answer and "error" in refused
    info, _key = add_key(clinic_store, clinic[0], engine.clock.now(), audit=engine)
    entries = trail(client)["entries"]
    assert [(e["action"], e["actor"], e["enrollment_id"]) for e in entries] == [
        ("key_add", "operator:cli", None),
        ("enroll", f"clinic:{clinic[0]} via intake", answer["id"]),
    ]
    assert entries[0]["detail"] == {"key_id": info.id}


@pytest.mark.parametrize("query", ["", "?erase=false", "?erase=1", "?erase="])
def test_delete_without_erase_true_answers_400_naming_erase(
    client: TestClient, enrolled: dict[str, Any], query: str
) -> None:
    response = client.delete(f"/v1/enrollments/{enrolled['id']}{query}")
    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"] == ["query", "erase"]
    after = client.get(f"/v1/enrollments/{enrolled['id']}").json()
    assert (after["state"], after["first_name"], after["phone"]) == ("active", "Ana", PATIENT_PHONE)
