"""POST /v1/enrollments/bulk: every row as a single enrollment, a report of each rejected one."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from starlette.testclient import TestClient

from tests.api.conftest import PATIENT_PHONE, enrollment_body
from worker.api.body_limit import BodyLimit
from worker.store import Store
from worker.store.keys import due_key

HEADER = ("patient_ref,program,first_name,phone,email,channels,language,timezone,consent_sms,consent_email,"
          "consent_recorded_at")  # fmt: skip
GOOD = (
    f"MRN-1,twitching,Ana,{PATIENT_PHONE},ana@example.com,sms;email,en,America/New_York,true,true,2026-01-01T00:00:00Z"
)
ROWS = [
    GOOD,
    "MRN-2,twitching,Bo,,bo@example.com,sms,en,America/New_York,true,false,2026-01-01T00:00:00Z",  # no phone
    "MRN-3,twitching,Cy,+14155552672,,sms,en,Mars/Olympus,true,false,2026-01-01T00:00:00Z",  # bad zone
    "MRN-4,knitting,Di,+14155552673,,sms,en,America/New_York,true,false,2026-01-01T00:00:00Z",  # no program
    GOOD.replace("Ana", "Ann"),  # the same patient_ref and program as row 1
    "MRN-6,twitching,Ed,,ed@example.com,email,es,Europe/Madrid,false,true,2026-01-01T00:00:00Z",
]
CSV = {"Content-Type": "text/csv"}


def post(client: TestClient, body: str, headers: dict[str, str] = CSV, **params: Any) -> Any:
    return client.post("/v1/enrollments/bulk", content=body.encode(), headers=headers, params=params)


def enrollment_keys(store: Store) -> list[str]:
    return sorted(str(k) for k in store.redis.keys("cd:{e:*") if str(k).endswith("}"))


def test_valid_rows_are_enrolled_and_every_rejected_row_is_reported(client: TestClient, store: Store) -> None:
    answer = post(client, "\n".join([HEADER, *ROWS]) + "\n")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["rows"], report["created"], report["existing"], report["dry_run"]) == (6, 2, 0, False)
    assert [(r["row"], r["field"]) for r in report["rejected"]] == [
        (2, "phone"), (3, "timezone"), (4, "program"), (5, "patient_ref"),
    ]  # fmt: skip
    assert "required when channels include sms" in report["rejected"][0]["reason"]
    assert "repeats row 1" in report["rejected"][3]["reason"]
    assert len(enrollment_keys(store)) == 2  # nothing of the rejected rows is stored
    assert store.redis.zcard(due_key("sms")) == 1 and store.redis.zcard(due_key("email")) == 2
    # the same id as a single enrollment: the single POST of row 1 finds it (200, unchanged)
    single = client.post("/v1/enrollments", json=enrollment_body(patient_ref="MRN-1"))
    assert single.status_code == 200 and single.json()["first_name"] == "Ana"
    again = post(client, "\n".join([HEADER, *ROWS]) + "\n").json()
    assert (again["created"], again["existing"], len(again["rejected"])) == (0, 2, 4)
    assert len(enrollment_keys(store)) == 2
    # each new row is in the clinic's audit trail as one enroll by its key; repeats add nothing
    trail = client.get("/v1/audit").json()["entries"]
    assert [e["action"] for e in trail] == ["enroll", "enroll"]
    assert {e["enrollment_id"] for e in trail} == {k.split(":", 1)[1].strip("{}").removeprefix("e:")
                                                   for k in enrollment_keys(store)}  # fmt: skip
    assert all(e["actor"].startswith("clinic:") and " key:k_" in e["actor"] for e in trail)


def test_json_lines_and_a_row_for_another_clinic(client: TestClient, other_clinic: tuple[str, str]) -> None:
    lines = [
        json.dumps(enrollment_body(patient_ref="j-1")),
        json.dumps({**enrollment_body(patient_ref="j-2"), "clinic_id": other_clinic[0]}),
        json.dumps(enrollment_body(patient_ref="j-3", consent={"sms": "yes", "recorded_at": "2026-01-01T00:00:00Z"})),
    ]
    answer = post(client, "\n".join(lines), {"Content-Type": "application/x-ndjson"})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["created"] == 1
    assert [(r["row"], r["field"]) for r in report["rejected"]] == [(2, "clinic_id"), (3, "consent.sms")]


def test_a_dry_run_stores_nothing_and_says_what_would_happen(client: TestClient, store: Store) -> None:
    post(client, f"{HEADER}\n{GOOD}\n")
    before = sorted(store.redis.keys("*"))
    body = "\n".join([HEADER, GOOD, ROWS[5], ROWS[1]])
    report = post(client, body, dry_run="true").json()
    assert (report["created"], report["existing"], len(report["rejected"]), report["dry_run"]) == (1, 1, 1, True)
    assert sorted(store.redis.keys("*")) == before


def test_files_refused_whole(client: TestClient, store: Store) -> None:
    too_many = post(client, "{}\n" * 100_001, {"Content-Type": "application/x-ndjson"})
    assert too_many.status_code == 413 and "100,000" in too_many.json()["detail"]
    no_column = post(client, "patient_ref,program\nMRN-1,twitching\n")
    assert no_column.status_code == 422
    assert no_column.json()["detail"][0]["loc"] == ["body", "columns"]
    wrong_type = post(client, f"{HEADER}\n{GOOD}\n", {"Content-Type": "application/json"})
    assert wrong_type.status_code == 415
    assert enrollment_keys(store) == []


def test_the_bulk_body_may_be_larger_than_a_single_one(client: TestClient) -> None:
    rows = [GOOD.replace("MRN-1", f"MRN-{i}").replace("ana@", f"ana{i}@") for i in range(600)]
    body = "\n".join([HEADER, *rows])
    assert len(body) > 64 * 1024
    report = post(client, body).json()
    assert (report["created"], report["rejected"]) == (600, [])


def test_bulk_needs_a_clinic_key(anon: TestClient) -> None:
    assert post(anon, f"{HEADER}\n{GOOD}\n").status_code == 401


def test_a_row_whose_enrollment_ended_starts_a_new_one(client: TestClient) -> None:
    body = f"{HEADER}\n{GOOD}\n"
    assert post(client, body).json()["created"] == 1
    first = client.post("/v1/enrollments", json=enrollment_body(patient_ref="MRN-1")).json()
    client.post(f"/v1/enrollments/{first['id']}/cancel")
    dry = post(client, body, dry_run="true").json()
    assert (dry["created"], dry["existing"]) == (1, 0)
    assert post(client, body).json()["created"] == 1
    assert post(client, body).json()["existing"] == 1
    latest = client.post("/v1/enrollments", json=enrollment_body(patient_ref="MRN-1")).json()
    assert latest["id"] != first["id"] and latest["state"] == "active"
    assert client.get(f"/v1/enrollments/{first['id']}").json()["state"] == "canceled"


def test_the_body_limit_is_per_path() -> None:
    """BodyLimit as the app wires it for bulk intake: a larger limit on the named path only."""
    app = FastAPI()

    @app.post("/{name}")
    async def echo(request: Request) -> int:
        return len(await request.body())

    app.add_middleware(BodyLimit, limit=10, larger={"/big": 100})
    with TestClient(app) as c:
        assert c.post("/big", content=b"x" * 100).json() == 100
        assert c.post("/big", content=b"x" * 101).status_code == 413
        small = c.post("/small", content=b"x" * 11)
        assert small.status_code == 413 and small.json() == {"detail": "request body larger than 10 bytes"}


def test_anchor_columns_enroll_into_an_anchored_program(client: TestClient, store: Store) -> None:
    header = f"{HEADER},program_anchor".replace(",program_anchor", ",anchor_visit")
    good = GOOD.replace("twitching", "visit-prep") + ",2026-03-12T15:00:00-04:00"
    bad = good.replace("MRN-1", "MRN-2").replace("2026-03-12T15:00:00-04:00", "2026-03-12T15:00:00")
    missing = good.replace("MRN-1", "MRN-3").replace(",2026-03-12T15:00:00-04:00", ",")
    answer = post(client, "\n".join([header, good, bad, missing]) + "\n").json()
    assert answer["created"] == 1
    assert [(r["row"], r["field"]) for r in answer["rejected"]] == [(2, "anchors.visit"), (3, "anchors.visit")]
    [eid] = [k.removeprefix("cd:{e:").removesuffix("}") for k in enrollment_keys(store)]
    assert client.get(f"/v1/enrollments/{eid}").json()["anchors"] == {"visit": "2026-03-12T19:00:00+00:00"}
