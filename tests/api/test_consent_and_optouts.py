"""Trust item 6: `GET /v1/enrollments/{id}` shows each channel's consent and opt-out (when, and by
which source: the patient's STOP, the provider's 21610, the email link) and why a pause holds."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.api.conftest import PATIENT_PHONE, enrollment_body, send_due, twilio_post
from tests.support.engine import new_enrollment
from worker.channels.base import OutgoingMessage, SendResult
from worker.channels.outbox import OutboxChannel
from worker.clock import FixedClock
from worker.delivery.types import DeliveryDeps
from worker.deps import EngineDeps
from worker.enrollment import build_enrollment
from worker.errors import PermanentChannelError
from worker.optouts import OptOut, OptOutSource, is_provider_opt_out, opt_out_sms
from worker.records import EnrollmentState, from_epoch_s
from worker.store.codec import pack_opt_out, unpack_consent, unpack_opt_out
from worker.tokens import unsubscribe_token

INBOUND = "/webhooks/twilio/inbound"
NOW = "2026-03-02T15:00:00+00:00"  # the fixed clock of the API fixtures
RECORDED = {"recorded_at": "2026-01-01T00:00:00+00:00"}
NOT_OPTED_OUT = {"sms": None, "email": None}
_SIDS = itertools.count()


def text(anon: TestClient, body: str) -> None:
    params = {"From": PATIENT_PHONE, "To": "+14155550199", "Body": body, "MessageSid": f"SM{next(_SIDS):032x}"}
    assert twilio_post(anon, INBOUND, params).status_code == 200


def read(client: TestClient, eid: str) -> dict[str, Any]:
    response = client.get(f"/v1/enrollments/{eid}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_new_enrollment_shows_its_consent_and_no_opt_out(client: TestClient, enrolled: dict[str, Any]) -> None:
    body = read(client, enrolled["id"])
    assert body["consent"] == {"sms": RECORDED, "email": RECORDED}
    assert body["opt_outs"] == NOT_OPTED_OUT
    assert body["paused_reason"] is None
    assert enrolled["consent"] == body["consent"]  # the POST answers the same shape


def test_a_channel_without_consent_is_absent(client: TestClient) -> None:
    eid = client.post("/v1/enrollments", json=enrollment_body(channels=["sms"], email=None)).json()["id"]
    assert read(client, eid)["consent"] == {"sms": RECORDED}


def test_stop_shows_as_an_sms_opt_out_by_the_patient_and_start_clears_it(
    client: TestClient, anon: TestClient, enrolled: dict[str, Any], clock: FixedClock
) -> None:
    eid = enrolled["id"]
    text(anon, "STOP")
    stopped = read(client, eid)
    assert stopped["opt_outs"] == {"sms": {"at": NOW, "source": "stop"}, "email": None}
    assert stopped["state"] == "active"  # email goes on
    clock.advance(timedelta(hours=2))
    text(anon, "STOP")  # a second STOP keeps the first one's time
    assert read(client, eid)["opt_outs"]["sms"] == {"at": NOW, "source": "stop"}
    text(anon, "START")
    assert read(client, eid)["opt_outs"] == NOT_OPTED_OUT


def test_stop_explains_why_an_sms_only_patient_has_no_next_message(
    client: TestClient, anon: TestClient
) -> None:
    eid = client.post("/v1/enrollments", json=enrollment_body(channels=["sms"], email=None)).json()["id"]
    text(anon, "stop")
    body = read(client, eid)
    assert (body["state"], body["next_message_at"]) == ("active", None)
    assert body["opt_outs"]["sms"] == {"at": NOW, "source": "stop"}


def test_a_21610_status_callback_shows_as_a_provider_opt_out(
    client: TestClient, anon: TestClient, enrolled: dict[str, Any], delivery: DeliveryDeps
) -> None:
    send_due(delivery)
    mid = f"{enrolled['id']}.welcome.sms.1"
    params = {"MessageSid": "SM" + "5" * 32, "MessageStatus": "failed", "ErrorCode": "21610", "To": PATIENT_PHONE}
    assert twilio_post(anon, f"/webhooks/twilio/status?m={mid}", params).status_code == 204
    assert read(client, enrolled["id"])["opt_outs"] == {"sms": {"at": NOW, "source": "provider"}, "email": None}


def test_a_21610_refusal_at_send_shows_as_a_provider_opt_out(
    client: TestClient, delivery: DeliveryDeps, outbox: Path
) -> None:
    class Unsubscribed(OutboxChannel):
        def send_many(self, messages: list[OutgoingMessage], *, now: datetime) -> list[SendResult | Exception]:
            return [PermanentChannelError("unsubscribed", code="21610", opt_out=True) for _ in messages]

    eid = client.post("/v1/enrollments", json=enrollment_body(channels=["sms"], email=None)).json()["id"]
    delivery.channels["sms"] = Unsubscribed("sms", outbox)
    send_due(delivery)
    assert read(client, eid)["opt_outs"] == {"sms": {"at": NOW, "source": "provider"}, "email": None}


def test_the_email_link_shows_as_an_email_opt_out_kept_from_the_first_click(
    client: TestClient, anon: TestClient, enrolled: dict[str, Any], engine: EngineDeps, clock: FixedClock
) -> None:
    url = f"/unsubscribe/{unsubscribe_token(engine.secret, enrolled['id'])}"
    assert anon.post(url).status_code == 200
    clock.advance(timedelta(days=1))
    assert anon.post(url).status_code == 200
    body = read(client, enrolled["id"])
    assert body["opt_outs"] == {"sms": None, "email": {"at": NOW, "source": "unsubscribe"}}
    assert body["next_message_at"] is not None  # SMS goes on


def test_a_clinic_pause_shows_its_reason_until_resumed(client: TestClient, enrolled: dict[str, Any]) -> None:
    eid = enrolled["id"]
    paused = client.post(f"/v1/enrollments/{eid}/pause").json()
    assert (paused["state"], paused["paused_reason"]) == ("paused", "clinic")
    assert read(client, eid)["paused_reason"] == "clinic"
    assert client.post(f"/v1/enrollments/{eid}/resume").json()["paused_reason"] is None
    assert client.post(f"/v1/enrollments/{eid}/cancel").json()["paused_reason"] is None


def test_the_openapi_document_describes_consent_opt_outs_and_pause_reason(anon: TestClient) -> None:
    spec = anon.get("/openapi.json").json()
    props = spec["components"]["schemas"]["EnrollmentOut"]["properties"]
    assert {"consent", "opt_outs", "paused_reason"} <= set(props)
    assert set(spec["components"]["schemas"]["OptOutSource"]["enum"]) == {"stop", "provider", "unsubscribe"}
    assert set(spec["components"]["schemas"]["PausedReason"]["enum"]) == {"clinic", "red_flag", "patient"}


# -- the values behind it, without HTTP ----------------------------------------------------------
@pytest.mark.parametrize(
    "code, opted_out", [(21610, True), ("21610", True), (" 21610 ", True), (21611, False), ("30005", False),
                        ("", False), (None, False), ("optout:21610", False)],
)
def test_the_provider_opt_out_code_is_one_value_as_int_or_text(code: int | str | None, opted_out: bool) -> None:
    assert is_provider_opt_out(code) is opted_out


AT = from_epoch_s(1_772_463_600)


@pytest.mark.parametrize(
    "value, expected",
    [
        (pack_opt_out(AT, OptOutSource.STOP), OptOut(AT, OptOutSource.STOP)),
        ("1772463600|provider", OptOut(AT, OptOutSource.PROVIDER)),
        ("1772463600", OptOut(AT, None)),  # an SMS opt-out stored before sources
        ("1", OptOut(None, None)),  # an email opt-out stored before times
        ("1772463600|bogus", OptOut(AT, None)),
    ],
)
def test_opt_out_records_read_back(value: str, expected: OptOut) -> None:
    assert unpack_opt_out(value) == expected


def test_consent_reads_back_per_channel() -> None:
    at = from_epoch_s(1_767_225_600)
    assert unpack_consent("email=1767225600;sms=1767225600") == {"sms": at, "email": at}
    assert unpack_consent("") == {}


def test_a_new_enrollment_of_a_number_that_texted_stop_answers_the_opt_out_in_its_201(
    client: TestClient, anon: TestClient, enrolled: dict[str, Any]
) -> None:
    """The POST reads a new enrollment's opt-outs in its create's round trip: the same answer as a
    GET after it (the number's STOP, no email opt-out); a repeat's are read after it, the same."""
    text(anon, "STOP")
    made = client.post("/v1/enrollments", json=enrollment_body(patient_ref="p-2"))
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["opt_outs"] == {"sms": {"at": NOW, "source": "stop"}, "email": None}
    assert body["next_message_at"] is not None  # email goes on
    assert body == read(client, body["id"])
    again = client.post("/v1/enrollments", json=enrollment_body(patient_ref="p-2"))
    assert (again.status_code, again.json()) == (200, body)


def test_the_create_reads_opt_outs_after_its_writes_in_one_round_trip(engine: EngineDeps) -> None:
    """`Store.create_enrollment(read_opt_outs=True)` answers what `opt_outs_of` answers after it,
    whether it created or not; without it (the engine, the intake task) nothing is read."""
    store = engine.store
    opt_out_sms(store, PATIENT_PHONE, engine.clock.now(), OptOutSource.STOP)
    e = build_enrollment(engine, new_enrollment("p-9", phone=PATIENT_PHONE), engine.clock.now())
    made = store.create_enrollment(e, ttl_s=60, read_opt_outs=True)
    assert made.created and made.opt_outs == store.opt_outs_of(e.id, ("sms", "email"), PATIENT_PHONE)
    assert made.opt_outs is not None and made.opt_outs[1] is not None  # the number's STOP
    store.opt_out_channel(e.id, "email", engine.clock.now(), OptOutSource.UNSUBSCRIBE)
    repeat = store.create_enrollment(e, ttl_s=60, read_opt_outs=True)
    assert (repeat.created, repeat.state) == (False, EnrollmentState.ACTIVE)
    assert repeat.opt_outs == store.opt_outs_of(e.id, ("sms", "email"), PATIENT_PHONE)
    assert "email" in repeat.opt_outs[0]
    assert store.create_enrollment(e, ttl_s=60).opt_outs is None
