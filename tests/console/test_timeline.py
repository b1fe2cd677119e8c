"""The timeline's rows and rules come from `worker.explain`: the console, `caredrip explain` and
GET …/schedule agree, and an operator's timeline carries no body and no name."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.testclient import TestClient

from tests.console.conftest import BASE_URL, sign_in
from tests.support.engine import new_enrollment, run_until_idle
from worker.console.timeline import LABELS, timeline
from worker.delivery.types import DeliveryDeps
from worker.enrollment import enroll, pause
from worker.explain import explain, schedule_json
from worker.records import MessageState


def test_rows_carry_explains_rules_quiet_hours_then_pause(delivery: DeliveryDeps) -> None:
    engine = delivery.engine
    # Enrolled at 15:00 UTC = midnight in Tokyo: the welcome (due at once) waits for 08:00 there.
    enrollment, _ = enroll(engine, new_enrollment(timezone="Asia/Tokyo", channels=("sms",), email=None))
    run_until_idle(delivery, until=datetime(2026, 3, 3, 0, 0, tzinfo=UTC))  # 09:00 Tuesday in Tokyo
    rows = timeline(engine, enrollment.id, enrollment.clinic_id, delivery.caps)
    api = schedule_json(explain(engine, enrollment.id, enrollment.clinic_id, delivery.caps))["messages"]
    assert [(r.step, r.channel, r.state, r.rule) for r in rows] == [
        (m["step"], m["channel"], m["state"], m["rule"]) for m in api
    ]
    welcome = rows[0]
    assert (welcome.step, welcome.state, welcome.rule) == ("welcome", MessageState.SENT.value, "quiet_hours")
    assert welcome.at == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 08:00 Tuesday in Tokyo
    assert "inside quiet hours 21:00-08:00" in welcome.reason and welcome.label == "Quiet hours"
    assert welcome.message_id == f"{enrollment.id}.welcome.sms.1"
    assert rows[1].state == "scheduled" and rows[1].message_id == ""
    assert all(r.state == "planned" for r in rows[2:])

    pause(engine, enrollment.id)
    paused = timeline(engine, enrollment.id, None, delivery.caps)  # an operator: any clinic
    assert all(r.rule == "pause" and r.label == "Paused" for r in paused[1:])
    assert set(LABELS) >= {r.rule for r in paused}


def test_the_page_shows_the_same_rule_codes_as_the_api_and_an_operator_sees_no_body(
    as_operator: TestClient, delivery: DeliveryDeps, clinic: tuple[str, str]
) -> None:
    engine = delivery.engine
    enrollment, _ = enroll(engine, new_enrollment("MRN-7", clinic_id=clinic[0], timezone="Asia/Tokyo"))
    page = as_operator.get(f"/console/patients/{enrollment.id}")
    assert page.status_code == 200
    codes = [m["rule"] or "" for m in schedule_json(explain(engine, enrollment.id, None, delivery.caps))["messages"]]
    shown = [line.split('data-rule="')[1].split('"')[0] for line in page.text.splitlines() if 'data-rule="' in line]
    assert shown == codes and "quiet_hours" in shown
    assert "Ana" not in page.text and "MRN-7" not in page.text and "+14155552671" not in page.text
    with TestClient(as_operator.app, base_url=BASE_URL) as clinic_client:
        sign_in(clinic_client, clinic[1])
        assert "inside quiet hours 21:00-08:00" in clinic_client.get(f"/console/patients/{enrollment.id}").text
