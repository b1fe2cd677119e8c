"""A clinic's patient list: its enrollments newest first, a page of 50, from the per-clinic index
written at enroll (single and bulk), ids only; each enrollment opened for its patient_ref."""

from __future__ import annotations

import re
from datetime import timedelta

from starlette.testclient import TestClient

from tests.support.engine import new_enrollment
from worker.bulk_intake import Source, bulk_enroll
from worker.bulk_rows import read_rows
from worker.clock import FixedClock
from worker.deps import EngineDeps
from worker.enrollment import enroll
from worker.records import epoch_ms
from worker.store import clinic_enrollments
from worker.store.keys import clinic_enrollments_key, enrollment_key

HEADER = "patient_ref,program,first_name,phone,channels,timezone,consent_sms,consent_recorded_at"


def _refs(html: str) -> list[str]:
    return re.findall(r"<td>(MRN-[^<]+)</td>", html)


def test_the_list_pages_newest_first_and_shows_only_the_clinics_own(
    as_clinic: TestClient, engine: EngineDeps, clinic: tuple[str, str], other_clinic: tuple[str, str]
) -> None:
    clock = engine.clock
    assert isinstance(clock, FixedClock)
    made = []
    for n in range(55):
        made.append(
            enroll(engine, new_enrollment(f"MRN-{n:03d}", clinic_id=clinic[0], phone=None, channels=("email",)))[0]
        )
        clock.advance(timedelta(minutes=1))
    enroll(engine, new_enrollment("MRN-OTHER", clinic_id=other_clinic[0]))

    first = as_clinic.get("/console/patients")
    assert first.status_code == 200 and "(55)" in first.text and "Page 1 of 2" in first.text
    assert _refs(first.text) == [f"MRN-{n:03d}" for n in range(54, 4, -1)]  # 50, newest first
    assert "MRN-OTHER" not in first.text and 'href="/console/patients?page=2"' in first.text
    second = as_clinic.get("/console/patients", params={"page": "2"})
    assert _refs(second.text) == ["MRN-004", "MRN-003", "MRN-002", "MRN-001", "MRN-000"]
    assert "active" in second.text

    # The index holds ids and creation times only: never a ref, a name or a number.
    raw = engine.store.redis
    listed = clinic_enrollments.listed(raw.hgetall(clinic_enrollments_key(clinic[0])))
    assert listed == [(e.id, epoch_ms(e.created_at)) for e in made]
    assert 0 < raw.ttl(clinic_enrollments_key(clinic[0])) <= engine.retention_s

    # An enrollment gone (expired, erased) leaves the list when a reader finds it gone.
    raw.delete(enrollment_key(made[54].id))
    assert _refs(as_clinic.get("/console/patients").text)[0] == "MRN-053"
    assert made[54].id not in [e for e, _ in clinic_enrollments.listed(raw.hgetall(clinic_enrollments_key(clinic[0])))]
    assert engine.store.clinic_enrollments(clinic[0], 0, 50)[1] == 54


def test_bulk_intake_lists_its_enrollments_too(
    as_clinic: TestClient, engine: EngineDeps, clinic: tuple[str, str]
) -> None:
    rows = [
        f"MRN-B{n},twitching,Ana,+1415555{2600 + n},sms,America/Chicago,true,2026-01-01T00:00:00Z" for n in range(3)
    ]
    _, items = read_rows("\n".join([HEADER, *rows]) + "\n", "csv")
    report = bulk_enroll(engine, items, Source(clinic[0]))
    assert report.created == 3
    assert engine.store.clinic_enrollments(clinic[0], 0, 50)[1] == 3
    assert sorted(_refs(as_clinic.get("/console/patients").text)) == ["MRN-B0", "MRN-B1", "MRN-B2"]
    bulk_enroll(engine, read_rows("\n".join([HEADER, *rows]) + "\n", "csv")[1], Source(clinic[0]))  # again: no change
    assert engine.store.clinic_enrollments(clinic[0], 0, 50)[1] == 3


def test_a_bad_page_number_gets_a_422_page(as_clinic: TestClient) -> None:
    for bad in ("0", "-1", "x", "99999999"):
        answer = as_clinic.get("/console/patients", params={"page": bad})
        assert answer.status_code == 422 and "No such page" in answer.text


def test_operators_get_no_list(as_operator: TestClient, engine: EngineDeps, clinic: tuple[str, str]) -> None:
    enroll(engine, new_enrollment("MRN-1", clinic_id=clinic[0]))
    page = as_operator.get("/console/patients")
    assert page.status_code == 200 and "MRN-1" not in page.text and "Your enrollments" not in page.text
