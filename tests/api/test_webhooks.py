"""Twilio webhooks over HTTP: signatures, status callbacks in any order, STOP/START/HELP, other replies."""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from tests.api.conftest import (
    BASE_URL,
    CLINIC_NAME,
    PATIENT_PHONE,
    enrollment_body,
    send_due,
    sign,
    twilio_post,
)
from tests.support.engine import outbox_lines
from worker.api import create_app
from worker.channels.base import OutgoingMessage, SendResult
from worker.channels.outbox import OutboxChannel
from worker.clock import FixedClock
from worker.delivery.dispatch import dispatch_once
from worker.delivery.send import send_batch
from worker.delivery.types import DeliveryDeps
from worker.errors import AmbiguousChannelError
from worker.records import MessageState
from worker.store import ClinicStore, CountKey, Lease, Store
from worker.store.keys import FAILED_INDEX, UNKNOWN_INDEX

INBOUND = "/webhooks/twilio/inbound"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def status_path(mid: str) -> str:
    return f"/webhooks/twilio/status?m={mid}"


def callback(status: str, error_code: str = "", to: str = PATIENT_PHONE) -> dict[str, str]:
    params = {"MessageSid": "SM" + "0" * 32, "MessageStatus": status, "To": to, "AccountSid": "AC" + "1" * 32}
    if error_code:
        params["ErrorCode"] = error_code
    return params


_SIDS = itertools.count()


def inbound(body: str, sender: str = PATIENT_PHONE) -> dict[str, str]:
    """An inbound SMS as Twilio posts it; each has its own MessageSid, as each real message does."""
    return {"From": sender, "To": "+14155550199", "Body": body, "MessageSid": f"SM{next(_SIDS):032x}"}


@pytest.fixture
def sent_sms(enrolled: dict[str, Any], delivery: DeliveryDeps) -> str:
    """The id of the welcome SMS, handed to the (outbox) provider."""
    send_due(delivery)
    return f"{enrolled['id']}.welcome.sms.1"


# -- signatures ----------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["missing", "garbage", "other token", "other base URL", "tampered params", "no query"])
def test_forged_status_callback_is_403_and_changes_nothing(
    anon: TestClient, sent_sms: str, store: Store, how: str
) -> None:
    path = status_path(sent_sms)
    params = callback("delivered")
    signature = {
        "missing": None,
        "garbage": "bm90IGEgc2lnbmF0dXJl",
        "other token": sign(params, path, token="not-the-token"),
        "other base URL": sign(params, path, base="https://testserver"),
        "tampered params": sign(callback("undelivered"), path),
        "no query": sign(params, "/webhooks/twilio/status"),
    }[how]
    headers = {"X-Twilio-Signature": signature} if signature else {}
    response = anon.post(path, data=params, headers=headers)
    assert response.status_code == 403
    record = store.record(sent_sms)
    assert record is not None and record.state is MessageState.SENT


def test_forged_inbound_stop_is_403_and_does_not_opt_out(
    anon: TestClient, enrolled: dict[str, Any], store: Store
) -> None:
    params = inbound("STOP")
    response = anon.post(INBOUND, data=params, headers={"X-Twilio-Signature": sign(inbound("HELP"), INBOUND)})
    assert response.status_code == 403
    assert store.sms_opted_out([PATIENT_PHONE]) == [False]


def test_without_an_auth_token_every_webhook_is_refused(engine: Any, clinic_store: ClinicStore) -> None:
    app = create_app(engine, clinic_store, public_base_url=BASE_URL, twilio_auth_token="")
    with TestClient(app, base_url=BASE_URL) as c:
        params = inbound("STOP")
        assert (
            c.post(INBOUND, data=params, headers={"X-Twilio-Signature": sign(params, INBOUND, token="")}).status_code
            == 403
        )


# -- status callbacks ----------------------------------------------------------------------------
def test_status_callbacks_apply_in_any_order_and_replay_is_harmless(
    anon: TestClient, sent_sms: str, store: Store
) -> None:
    path = status_path(sent_sms)
    before = store.record(sent_sms)
    assert before is not None and before.state is MessageState.SENT
    delivered = callback("delivered")
    assert twilio_post(anon, path, delivered).status_code == 204
    after = store.record(sent_sms)
    assert after is not None and after.state is MessageState.DELIVERED
    assert after.provider_id == before.provider_id
    totals = store.stats_totals()
    # the very same signed request again (a replay): same answer, nothing changes
    signature = sign(delivered, path)
    for _ in range(3):
        assert anon.post(path, data=delivered, headers={"X-Twilio-Signature": signature}).status_code == 204
    # a late "sent" and "queued" never overwrite "delivered"
    for late in ("sent", "queued", "sending"):
        assert twilio_post(anon, path, callback(late)).status_code == 204
    assert store.record(sent_sms) == after
    assert store.stats_totals() == totals
    assert totals.get(CountKey("delivered", "sms", "twitching")) == 1


def test_undelivered_keeps_the_error_code(anon: TestClient, sent_sms: str, store: Store) -> None:
    assert twilio_post(anon, status_path(sent_sms), callback("undelivered", "30005")).status_code == 204
    record = store.record(sent_sms)
    assert record is not None
    assert (record.state, record.reason) == (MessageState.UNDELIVERED, "30005")
    assert twilio_post(anon, status_path(sent_sms), callback("delivered")).status_code == 204
    assert store.record(sent_sms) == record  # final states do not change


def test_failed_21610_opts_the_number_out(anon: TestClient, sent_sms: str, store: Store) -> None:
    assert twilio_post(anon, status_path(sent_sms), callback("failed", "21610")).status_code == 204
    record = store.record(sent_sms)
    assert record is not None and (record.state, record.reason) == (MessageState.FAILED, "21610")
    assert store.sms_opted_out([PATIENT_PHONE]) == [True]
    assert sent_sms in store.indexed_messages(FAILED_INDEX)


def test_unknown_message_that_the_provider_reports_leaves_the_unknown_index(
    client: TestClient, anon: TestClient, delivery: DeliveryDeps, store: Store
) -> None:
    class Ambiguous(OutboxChannel):
        def send_many(self, messages: list[OutgoingMessage], *, now: datetime) -> list[SendResult | Exception]:
            return [AmbiguousChannelError("read timeout") for _ in messages]

    eid = client.post("/v1/enrollments", json=enrollment_body(channels=["sms"], email=None)).json()["id"]
    delivery.channels["sms"] = Ambiguous("sms", Path("/nonexistent/outbox"))
    send_due(delivery)
    mid = f"{eid}.welcome.sms.1"
    assert store.indexed_messages(UNKNOWN_INDEX) == [mid]
    assert twilio_post(anon, status_path(mid), callback("sent")).status_code == 204
    record = store.record(mid)
    assert record is not None and record.state is MessageState.SENT
    assert store.indexed_messages(UNKNOWN_INDEX) == []


def test_delivered_callback_that_beats_the_send_result_is_kept(
    client: TestClient, anon: TestClient, delivery: DeliveryDeps, store: Store, outbox: Path
) -> None:
    """Twilio may report "delivered" before the send call returns: the result must not undo it."""

    class Fast(OutboxChannel):
        def send_many(self, messages: list[OutgoingMessage], *, now: datetime) -> list[SendResult | Exception]:
            results = super().send_many(messages, now=now)
            for m in messages:
                assert m.status_callback_url is not None
                path = m.status_callback_url.removeprefix(BASE_URL)
                assert twilio_post(anon, path, callback("delivered")).status_code == 204
            return results

    eid = client.post("/v1/enrollments", json=enrollment_body(channels=["sms"], email=None)).json()["id"]
    delivery.channels["sms"] = Fast("sms", outbox)
    send_due(delivery)
    record = store.record(f"{eid}.welcome.sms.1")
    assert record is not None
    assert record.state is MessageState.DELIVERED
    assert record.provider_id == f"outbox-{eid}.welcome.sms.1"


@pytest.mark.parametrize(
    "path, params, code",
    [
        ("/webhooks/twilio/status", callback("delivered"), 400),
        ("/webhooks/twilio/status?m=not-a-message-id", callback("delivered"), 400),
        ("/webhooks/twilio/status?m=abc.welcome.sms.1", {"To": PATIENT_PHONE}, 400),
        ("/webhooks/twilio/status?m=abc.welcome.sms.1", callback("delivered"), 204),  # no such record: nothing to do
        ("/webhooks/twilio/status?m=abc.welcome.sms.1", callback("scheduled"), 204),  # a status we ignore
        ("/webhooks/twilio/inbound", {"Body": "STOP"}, 400),
        ("/webhooks/twilio/inbound", {"Body": "STOP", "From": "unknown"}, 400),
    ],
)
def test_signed_but_unusable_webhooks(anon: TestClient, path: str, params: dict[str, str], code: int) -> None:
    assert twilio_post(anon, path, params).status_code == code


# -- inbound: STOP, START, HELP, anything else ---------------------------------------------------
@pytest.mark.parametrize(
    "word", ["STOP", " sToP ", "stopall", "Unsubscribe", "cancel", "END", "quit", "revoke", "OptOut", "\tstop\n"]
)
def test_opt_out_keywords_opt_the_number_out(anon: TestClient, store: Store, word: str) -> None:
    response = twilio_post(anon, INBOUND, inbound(word))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text == (  # a number no clinic enrolled: the default program's words, no clinic named
        '<?xml version="1.0" encoding="UTF-8"?><Response><Message>'
        "You will get no more texts from us. Reply START to get them again.</Message></Response>"
    )
    assert store.sms_opted_out([PATIENT_PHONE]) == [True]


@pytest.mark.parametrize("text", ["stop please", "don't stop", "S T O P", "no parar"])
def test_sentences_are_not_keywords(anon: TestClient, store: Store, text: str) -> None:
    twilio_post(anon, INBOUND, inbound(text))
    assert store.sms_opted_out([PATIENT_PHONE]) == [False]


def test_stop_in_mixed_case_stops_an_sms_already_claimed(
    client: TestClient, anon: TestClient, delivery: DeliveryDeps, store: Store, outbox: Path
) -> None:
    eid = client.post("/v1/enrollments", json=enrollment_body(channels=["sms"], email=None)).json()["id"]
    claimed: list[tuple[str, list[str]]] = []
    assert dispatch_once(delivery, lambda channel, eids: claimed.append((channel, eids))) == 1
    assert [(ch, [Lease.parse(h).enrollment_id for h in handles]) for ch, handles in claimed] == [("sms", [eid])]
    assert twilio_post(anon, INBOUND, inbound(" sToP ")).status_code == 200
    outcome = send_batch(delivery, "sms", claimed[0][1])
    assert outcome.counts == {"skipped": 1}
    assert outbox_lines(outbox) == []
    record = store.record(f"{eid}.welcome.sms.1")
    assert record is not None and (record.state, record.reason) == (MessageState.SKIPPED, "opted_out")
    assert client.get(f"/v1/enrollments/{eid}").json()["next_message_at"] is None


def test_start_opts_back_in_and_the_next_sms_goes_out(
    client: TestClient, anon: TestClient, delivery: DeliveryDeps, clock: FixedClock, store: Store, outbox: Path
) -> None:
    eid = client.post("/v1/enrollments", json=enrollment_body(channels=["sms"], email=None)).json()["id"]
    twilio_post(anon, INBOUND, inbound("STOP"))
    send_due(delivery)
    assert outbox_lines(outbox) == []
    for word in ("start", " UNSTOP", "Yes"):
        twilio_post(anon, INBOUND, inbound("STOP"))
        response = twilio_post(anon, INBOUND, inbound(word))
        assert response.status_code == 200
        assert f"<Message>{CLINIC_NAME}: You will get our texts again." in response.text
        assert store.sms_opted_out([PATIENT_PHONE]) == [False]
    next_at = client.get(f"/v1/enrollments/{eid}").json()["next_message_at"]
    assert next_at == "2026-03-04T15:00:00+00:00"
    clock.set(datetime.fromisoformat(next_at))
    send_due(delivery)
    assert [line["step"] for line in outbox_lines(outbox)] == ["hydration"]


@pytest.mark.parametrize("word", ["HELP", " help ", "Info"])
def test_help_names_the_clinic_and_its_phone(anon: TestClient, enrolled: dict[str, Any], word: str) -> None:
    response = twilio_post(anon, INBOUND, inbound(word))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Message>'
        f"{CLINIC_NAME}: Health tips by text. Questions? Call +1 415-555-0100. In an emergency, call 911. "
        "Reply STOP to opt out.</Message></Response>"
    )


def test_help_names_the_clinic_whose_message_the_number_received_last(
    api: FastAPI,
    client: TestClient,
    anon: TestClient,
    other_clinic: tuple[str, str],
    delivery: DeliveryDeps,
    clock: FixedClock,
) -> None:
    """Issue 13 item 2 changed this rule: HELP used to name the clinic of the latest enrollment of
    the number (whoever wrote last); it names the clinic whose message the number received last."""
    client.post("/v1/enrollments", json=enrollment_body())
    send_due(delivery)  # Riverside's welcome reaches the number
    with TestClient(api, headers={"Authorization": f"Bearer {other_clinic[1]}"}) as other:
        assert other.post("/v1/enrollments", json=enrollment_body()).status_code == 201
    assert f"<Message>{CLINIC_NAME}: Health tips by text." in twilio_post(anon, INBOUND, inbound("HELP")).text
    clock.set(datetime.fromisoformat("2026-03-03T13:30:00+00:00"))  # the next morning Hillside's welcome goes
    send_due(delivery)
    text = twilio_post(anon, INBOUND, inbound("HELP")).text
    assert "Hillside Clinic: Health tips by text. In an emergency, call 911. Reply STOP to opt out." in text


def test_help_from_an_unknown_number_is_generic(anon: TestClient) -> None:
    text = twilio_post(anon, INBOUND, inbound("HELP", sender="+14155559999")).text
    assert "<Message>Health tips by text. In an emergency, call 911. Reply STOP to opt out.</Message>" in text


def test_other_replies_are_kept_for_the_clinic_and_not_answered(
    anon: TestClient, client: TestClient, enrolled: dict[str, Any], store: Store
) -> None:
    response = twilio_post(anon, INBOUND, inbound("Thanks! <3 & see you"))
    assert (response.status_code, response.text) == (200, EMPTY_TWIML)
    replies = client.get("/v1/replies").json()["replies"]  # the clinic's inbox (it was a Redis list)
    assert [(r["enrollment_id"], r["body"], r["received_at"]) for r in replies] == [
        (enrolled["id"], "Thanks! <3 & see you", "2026-03-02T15:00:00+00:00")
    ]
    assert store.sms_opted_out([PATIENT_PHONE]) == [False]
