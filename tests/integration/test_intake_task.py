"""The intake task on a real worker refuses an unknown or revoked clinic and a bad body: a failed
intake naming the field, listed for operators without the body, and a result, not a traceback
(issue 13, item 8)."""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.api.conftest import send_due
from tests.integration.test_intake_events import BODY, EventTap, leaks, listening
from tests.support.celery_worker import in_process_worker
from tests.support.engine import make_deps, outbox_lines
from tests.support.processes import celery_broker
from tests.support.redis_fixture import wait_until
from worker import tasks, wiring
from worker.celery_app import app
from worker.clinics import add_clinic, revoke_clinic
from worker.delivery.types import DeliveryDeps
from worker.intake_queue import failed_intakes
from worker.status import gather
from worker.store import ClinicStore


@pytest.fixture
def deps(redis_url: str, tmp_path: Path) -> Iterator[DeliveryDeps]:
    """Engine deps and a clinic store on the test Redis, installed for an in-process worker."""
    deps = make_deps(redis_url, tmp_path / "outbox.jsonl")
    clinics = ClinicStore(redis.Redis.from_url(redis_url, decode_responses=True))
    wiring.reset()
    wiring.override(delivery=deps, engine=deps.engine, clinics=clinics)
    yield deps
    wiring.reset()
    clinics.redis.close()


@pytest.fixture
def tap(deps: DeliveryDeps, redis_url: str) -> Iterator[EventTap]:
    with celery_broker(app, redis_url), listening() as tap:
        yield tap


def run_intake(tap: EventTap, calls: list[tuple[Any, Any]]) -> list[dict[str, Any]]:
    """Send each (clinic_id, body) to a real worker; each task's final event, in order."""
    with in_process_worker(app, pool="threads", queues=["intake"]):
        ids = [tasks.enroll.delay(clinic_id, body).id for clinic_id, body in calls]
        finals = [
            wait_until(lambda tid=tid: next(  # type: ignore[misc]
                (e for e in tap.of(tid) if e["type"] in ("task-succeeded", "task-failed")), None), timeout=20)
            for tid in ids
        ]  # fmt: skip
    return finals


def result_of(event: dict[str, Any]) -> Any:
    assert event["type"] == "task-succeeded", event.get("exception") or event
    return ast.literal_eval(event["result"])


def test_an_unknown_or_revoked_clinic_is_refused_and_listed(tap: EventTap, deps: DeliveryDeps) -> None:
    clinics = wiring.clinics()
    revoked, _ = add_clinic(clinics, "Closed Clinic", None, None, deps.engine.clock.now())
    revoke_clinic(clinics, revoked, deps.engine.clock.now())
    finals = run_intake(tap, [("c_riverside", BODY), (revoked, BODY), (["not", "an", "id"], BODY)])
    assert [result_of(e) for e in finals] == [
        {"error": {"field": "clinic_id", "message": "no clinic 'c_riverside'"}},
        {"error": {"field": "clinic_id", "message": f"clinic {revoked} is revoked"}},
        {"error": {"field": "clinic_id", "message": "not a clinic id (see `caredrip clinic list`)"}},
    ]
    assert deps.engine.store.redis.keys("cd:{e:*") == []  # nobody enrolled, nobody texted
    listed = failed_intakes(deps.engine)
    assert sorted((f.clinic_id, f.field) for f in listed) == sorted(
        [("?", "clinic_id"), (revoked, "clinic_id"), ("c_riverside", "clinic_id")]
    )
    assert {f.id for f in listed} == {e["uuid"] for e in finals}
    assert leaks([f.as_json() for f in listed]) == [] and leaks(finals) == []


def test_a_bad_body_is_a_failed_intake_naming_the_field(tap: EventTap, deps: DeliveryDeps) -> None:
    clinic_id, _ = add_clinic(wiring.clinics(), "Riverside Family Clinic", None, None, deps.engine.clock.now())
    bad_phone = {**BODY, "phone": "+1415555ABCD"}
    no_consent = {**BODY, "consent": {"sms": True, "recorded_at": "2026-03-01T14:00:00Z"}}
    finals = run_intake(tap, [(clinic_id, bad_phone), (clinic_id, no_consent), (clinic_id, "Philippa +14155552671")])
    errors = [result_of(e)["error"] for e in finals]
    assert [e["field"] for e in errors] == ["phone", "consent.email", "body"]
    listed = failed_intakes(deps.engine)
    by_id = {f.id: (f.clinic_id, f.field) for f in listed}
    assert [by_id[e["uuid"]] for e in finals] == [(clinic_id, f) for f in ("phone", "consent.email", "body")]
    assert all(f.reason and f.at == deps.engine.clock.now() for f in listed)
    assert leaks([f.as_json() for f in listed]) == [] and leaks(finals) == []
    status = gather(deps.engine.store, deps.engine.clock.now(), lambda: [])
    assert status["intake_failed_total"] == 3


def test_a_known_clinic_enrolls_and_its_messages_name_it(tap: EventTap, deps: DeliveryDeps, tmp_path: Path) -> None:
    clinics = wiring.clinics()
    clinic_id, _ = add_clinic(clinics, "Hillcrest Pediatrics", None, None, deps.engine.clock.now())
    results = [result_of(e) for e in run_intake(tap, [(clinic_id, BODY), (clinic_id, BODY)])]
    assert sorted(r["created"] for r in results) == [False, True] and len({r["id"] for r in results}) == 1
    enrollment = deps.engine.store.get_enrollment(results[0]["id"])
    assert enrollment is not None and enrollment.clinic_id == clinic_id
    assert failed_intakes(deps.engine) == []
    assert leaks(results) == []
    send_due(dataclasses.replace(deps, clinics=clinics.get))
    bodies = [line["body"] for line in outbox_lines(tmp_path / "outbox.jsonl")]
    assert bodies and all("Hillcrest Pediatrics" in body for body in bodies)
