"""The console over what main adds: red-flag alerts (a clinic's, shown on its patient and closed by
acknowledging the reply; every open one on operations, with its age) and the audit trail."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.console.conftest import csrf_of
from worker.alerts import open_alerts, raise_alert
from worker.audit import entries
from worker.deps import EngineDeps
from worker.inbox import record_reply
from worker.records import Enrollment
from worker.tokens import hash_key, key_id


def test_a_red_flag_alert_shows_on_the_patient_and_operations_and_closes_with_the_ack(
    as_clinic: TestClient, as_operator: TestClient, patient: Enrollment, engine: EngineDeps, clinic: tuple[str, str]
) -> None:
    reply = record_reply(engine, clinic[0], patient.id, "chest pain", engine.clock.now(), red_flag=True)
    raise_alert(engine, reply.id, clinic[0], patient.id, engine.clock.now())
    page = as_clinic.get(f"/console/patients/{patient.id}")
    assert "Open red-flag alerts (1)" in page.text and f'href="#reply-{reply.id}"' in page.text
    ops = as_operator.get("/console/operations")
    assert "Open red-flag alerts (1)" in ops.text and reply.id in ops.text and "chest pain" not in ops.text
    done = as_clinic.post(f"/console/patients/{patient.id}/replies/{reply.id}/ack", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 200 and "Open red-flag alerts" not in done.text
    assert open_alerts(engine) == []


def test_an_operator_closes_an_alert_with_its_csrf_token(
    as_operator: TestClient, patient: Enrollment, engine: EngineDeps, clinic: tuple[str, str]
) -> None:
    reply = record_reply(engine, clinic[0], patient.id, "worse", engine.clock.now(), red_flag=True)
    raise_alert(engine, reply.id, clinic[0], patient.id, engine.clock.now())
    path = f"/console/alerts/{reply.id}/close"
    assert as_operator.post(path, data={}).status_code == 403 and len(open_alerts(engine)) == 1
    csrf = csrf_of(as_operator.get("/console/operations").text)
    assert as_operator.post(path, data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert open_alerts(engine) == []
    assert as_operator.post(path, data={"csrf": csrf}).status_code == 404


def test_console_actions_are_audited_as_the_sessions_actor(
    as_clinic: TestClient, patient: Enrollment, engine: EngineDeps, clinic: tuple[str, str]
) -> None:
    csrf = csrf_of(as_clinic.get(f"/console/patients/{patient.id}").text)
    assert as_clinic.post(f"/console/patients/{patient.id}/pause", data={"csrf": csrf}).status_code == 200
    audited = [e for e in entries(engine, enrollment_id=patient.id) if e.action == "pause"]
    assert [e.actor for e in audited] == [f"clinic:{clinic[0]} key:{key_id(hash_key(clinic[1]))}"]
