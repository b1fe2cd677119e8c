"""Clinic events delivered for real: signed POSTs to an HTTP receiver on loopback that verifies
them, retries on a fixed clock (no sleeps), de-duplication, the 24-hour give-up, alert emails
through aiosmtpd, and one run through a real Celery worker on the `webhooks` queue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.celery_worker import in_process_worker
from tests.support.engine import make_deps, new_enrollment, send_inline
from tests.support.processes import celery_broker
from tests.support.redis_fixture import wait_until
from tests.support.smtp_server import SmtpTestServer
from tests.support.twilio_standin import TwilioStandIn
from tests.support.webhook_receiver import WebhookReceiver, deliver_due, next_delivery_due
from worker import tasks, wiring
from worker.celery_app import app
from worker.channels.outbox import OutboxChannel
from worker.channels.smtp_email import SmtpEmailChannel
from worker.channels.twilio_sms import TwilioSmsChannel
from worker.clinics import add_clinic, register_webhook, remove_webhook
from worker.clock import FixedClock
from worker.delivery.dispatch import dispatch_once
from worker.delivery.types import DeliveryDeps
from worker.enrollment import enroll
from worker.events import emit
from worker.metrics import make_registry, render
from worker.status import gather
from worker.store import ClinicStore, DeliveryKind, DeliveryState
from worker.webhooks import EventType, event_id, retry_offsets
from worker.webhooks.delivery import Answer, post

CLINIC_EMAIL = "alerts@riverside.example"
TWILIO_TOKEN = "test-auth-token"


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


@pytest.fixture
def deps(redis_url: str, tmp_path: Path, smtp: SmtpTestServer) -> Iterator[DeliveryDeps]:
    channels = {
        "sms": OutboxChannel("sms", tmp_path / "outbox.jsonl"),
        "email": SmtpEmailChannel(host="127.0.0.1", port=smtp.port, starttls=False, mail_from="caredrip@example.org"),
    }
    made = make_deps(redis_url, tmp_path / "outbox.jsonl", channels=channels)  # type: ignore[arg-type]
    yield made
    made.engine.store.redis.close()


@pytest.fixture
def clock(deps: DeliveryDeps) -> FixedClock:
    assert isinstance(deps.engine.clock, FixedClock)
    return deps.engine.clock


@pytest.fixture
def clinics(deps: DeliveryDeps) -> ClinicStore:
    return ClinicStore(deps.engine.store.redis)


@pytest.fixture
def receiver(clock: FixedClock) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(now=lambda: clock.now().timestamp()) as r:
        yield r


@pytest.fixture
def cid(deps: DeliveryDeps, clinics: ClinicStore, clock: FixedClock, receiver: WebhookReceiver) -> str:
    """A clinic with an email address and its webhook registered at the receiver."""
    clinic_id, _key = add_clinic(clinics, "Riverside", "+14155550100", CLINIC_EMAIL, clock.now())
    _url, receiver.secret = register_webhook(clinics, deps.engine.keyring, clinic_id, receiver.url, production=False)
    return clinic_id


def reply_event(deps: DeliveryDeps, cid: str, rid: str = "r_1") -> str:
    data = {"reply_id": rid, "enrollment_id": "e_1", "patient_ref": "p-1", "red_flag": False}
    emit(deps.engine, cid, EventType.REPLY_RECEIVED, key=rid, at=deps.engine.clock.now(), data=data)
    return event_id(EventType.REPLY_RECEIVED, rid)


def test_an_event_is_signed_retried_after_a_500_and_recorded(
    deps: DeliveryDeps, cid: str, receiver: WebhookReceiver, clock: FixedClock
) -> None:
    receiver.script([500])
    evt = reply_event(deps, cid)
    assert deliver_due(deps) == [DeliveryState.PENDING]
    assert deliver_due(deps) == []  # the retry waits for its backoff
    retry_at = next_delivery_due(deps)
    assert retry_at is not None and retry_at > clock.now()
    clock.set(retry_at)
    assert deliver_due(deps) == [DeliveryState.DELIVERED]
    first, second = receiver.received
    assert (first.answered, second.answered) == (500, 200)
    assert first.verified and second.verified
    assert first.body == second.body  # the same bytes every time
    assert first.signature != second.signature  # signed at send time: a fresh t
    assert first.event == {
        "id": evt,
        "type": "reply.received",
        "created_at": "2026-03-02T15:00:00+00:00",
        "data": {"reply_id": "r_1", "enrollment_id": "e_1", "patient_ref": "p-1", "red_flag": False},
    }
    attempts = deps.engine.store.event_attempts(evt)
    assert [(a.kind, a.status, a.error) for a in attempts] == [
        (DeliveryKind.HOOK, 500, None),
        (DeliveryKind.HOOK, 200, None),
    ]
    assert attempts[1].at - attempts[0].at == retry_at - attempts[0].at > timedelta(0)
    assert all(a.duration_ms >= 0 for a in attempts)
    stored = deps.engine.store.get_event(evt)
    assert stored is not None and stored.deliveries[DeliveryKind.HOOK].state is DeliveryState.DELIVERED
    assert stored.deliveries[DeliveryKind.HOOK].attempts == 2
    for key in (f"cd:{{w:{evt}}}", f"cd:{{w:{evt}}}:a"):  # kept 30 days, then gone
        assert 29 * 86400 < deps.engine.store.redis.ttl(key) <= 30 * 86400


def test_the_same_occurrence_is_one_event(deps: DeliveryDeps, cid: str, receiver: WebhookReceiver) -> None:
    first = reply_event(deps, cid, "r_1")
    assert reply_event(deps, cid, "r_1") == first
    deliver_due(deps)
    assert reply_event(deps, cid, "r_1") == first  # again after it was delivered: nothing new
    assert deliver_due(deps) == []
    reply_event(deps, cid, "r_2")
    deliver_due(deps)
    assert [r.event["id"] for r in receiver.received] == [first, event_id(EventType.REPLY_RECEIVED, "r_2")]


def test_a_failing_endpoint_is_given_up_24_hours_after_the_first_attempt(
    deps: DeliveryDeps, cid: str, receiver: WebhookReceiver, clock: FixedClock
) -> None:
    receiver.script([503] * 100)
    evt = reply_event(deps, cid)
    start = clock.now()
    states = deliver_due(deps)
    while states == [DeliveryState.PENDING]:
        due = next_delivery_due(deps)
        assert due is not None
        clock.set(due)
        states = deliver_due(deps)
    assert states == [DeliveryState.FAILED]
    attempts = deps.engine.store.event_attempts(evt)
    assert len(attempts) == len(retry_offsets(jitters=[0.5])) + 1  # every retry the policy allows
    assert attempts[-1].at - attempts[0].at == timedelta(hours=24) and attempts[0].at == start
    assert all(r.verified and r.event["id"] == evt for r in receiver.received)
    assert next_delivery_due(deps) is None
    status = gather(deps.engine.store, clock.now(), lambda: [])
    assert status["webhooks"] == {
        "pending": 0, "in_flight": 0, "failed_total": 1, "delivered_total": 0, "emit_errors_total": 0
    }  # fmt: skip
    assert deps.engine.store.failed_deliveries() == [f"hook:{evt}"]
    metrics = render(make_registry(lambda: deps.engine)).decode()
    assert 'caredrip_webhook_deliveries_total{kind="hook",outcome="failed"} 1.0' in metrics


def test_no_answer_in_time_is_a_failed_attempt(deps: DeliveryDeps, cid: str, receiver: WebhookReceiver) -> None:
    receiver.script([0])  # hangs

    def quick(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
        return post(url, body, headers, 0.3)

    evt = reply_event(deps, cid)
    assert deliver_due(deps, poster=quick) == [DeliveryState.PENDING]
    [attempt] = deps.engine.store.event_attempts(evt)
    assert (attempt.status, attempt.error) == (None, "timeout")


def test_a_new_secret_signs_the_retry_and_a_removed_webhook_drops_what_waits(
    deps: DeliveryDeps, cid: str, receiver: WebhookReceiver, clinics: ClinicStore, clock: FixedClock
) -> None:
    receiver.script([500])
    reply_event(deps, cid, "r_1")
    deliver_due(deps)
    old = receiver.secret
    _url, receiver.secret = register_webhook(clinics, deps.engine.keyring, cid, receiver.url, production=False)
    assert receiver.secret != old
    clock.advance(hours=1)
    deliver_due(deps)
    assert receiver.received[-1].verified and receiver.received[-1].answered == 200

    receiver.script([500])
    evt = reply_event(deps, cid, "r_2")
    deliver_due(deps)
    remove_webhook(clinics, cid)
    clock.advance(hours=1)
    assert deliver_due(deps) == [DeliveryState.DROPPED]
    assert len(receiver.received) == 3
    reply_event(deps, cid, "r_3")  # no webhook: nothing stored
    assert deps.engine.store.get_event(event_id(EventType.REPLY_RECEIVED, "r_3")) is None
    stored = deps.engine.store.get_event(evt)
    assert stored is not None and stored.deliveries[DeliveryKind.HOOK].state is DeliveryState.DROPPED


def test_the_stored_secret_is_sealed(deps: DeliveryDeps, cid: str, receiver: WebhookReceiver) -> None:
    row = deps.engine.store.redis.hgetall(f"cd:clinic:{cid}")
    assert row["webhook_url"] == receiver.url
    assert receiver.secret not in json.dumps(row)
    assert deps.engine.keyring.open(str(row["webhook_secret"]), aad=cid) == receiver.secret


def test_an_alert_is_also_emailed_to_the_clinic_and_retried(
    deps: DeliveryDeps, cid: str, receiver: WebhookReceiver, smtp: SmtpTestServer, clock: FixedClock
) -> None:
    smtp.script(["451"])  # the relay is busy once
    data = {"reply_id": "r_9", "enrollment_id": "e_42", "patient_ref": "MRN-7", "body": "chest pain"}
    emit(deps.engine, cid, EventType.ALERT_RAISED, key="r_9", at=clock.now(), data=data)
    evt = event_id(EventType.ALERT_RAISED, "r_9")
    assert sorted(str(s) for s in deliver_due(deps)) == ["delivered", "pending"]
    clock.set(next_delivery_due(deps))  # type: ignore[arg-type]
    assert deliver_due(deps) == [DeliveryState.DELIVERED]
    [mail] = smtp.messages
    assert mail.rcpt_tos == [CLINIC_EMAIL]
    text = mail.message.get_content()
    assert "e_42" in text and "MRN-7" in text and "/v1/replies" in text and evt in text
    assert "chest pain" not in mail.raw.decode()
    assert "warning sign" in str(mail.message["Subject"])
    [hook] = receiver.received
    assert hook.verified and hook.event["id"] == evt and "body" not in hook.event["data"]  # PHI fields never sent
    kinds = [(a.kind, a.error) for a in deps.engine.store.event_attempts(evt)]
    assert kinds[0] == (DeliveryKind.HOOK, None) and (DeliveryKind.MAIL, "TransientChannelError") in kinds


def test_a_clinic_without_a_webhook_still_gets_alert_emails_and_nothing_else(
    deps: DeliveryDeps, clinics: ClinicStore, clock: FixedClock, smtp: SmtpTestServer
) -> None:
    other, _ = add_clinic(clinics, "Hillside", None, "desk@hillside.example", clock.now())
    emit(deps.engine, other, EventType.REPLY_RECEIVED, key="r_1", at=clock.now(), data={"reply_id": "r_1"})
    emit(deps.engine, other, EventType.ALERT_RAISED, key="r_2", at=clock.now(), data={"reply_id": "r_2"})
    assert deliver_due(deps) == [DeliveryState.DELIVERED]
    assert [m.rcpt_tos for m in smtp.messages] == [["desk@hillside.example"]]


def test_emit_never_raises(deps: DeliveryDeps, cid: str) -> None:
    deps.engine.store.redis.set(f"cd:{{w:{event_id(EventType.REPLY_RECEIVED, 'r_x')}}}", "not a hash")
    reply_event(deps, cid, "r_x")  # WRONGTYPE inside: logged and counted, not raised
    status = gather(deps.engine.store, deps.engine.clock.now(), lambda: [])
    assert status["webhooks"]["emit_errors_total"] == 1


@pytest.fixture
def celery_deps(deps: DeliveryDeps, redis_url: str) -> Iterator[DeliveryDeps]:
    wiring.reset()
    wiring.override(delivery=deps, engine=deps.engine)
    with celery_broker(app, redis_url), in_process_worker(app, pool="threads", queues=["dispatch", "webhooks"]):
        yield deps
    wiring.reset()


def test_deliveries_run_on_a_real_worker_of_the_webhooks_queue(
    celery_deps: DeliveryDeps, cid: str, receiver: WebhookReceiver, clock: FixedClock
) -> None:
    receiver.script([500])
    evt = reply_event(celery_deps, cid)
    tasks.webhooks_due.apply_async(queue="dispatch")
    wait_until(lambda: len(celery_deps.engine.store.event_attempts(evt)) == 1, timeout=20)
    clock.advance(minutes=5)
    tasks.webhooks_due.apply_async(queue="dispatch")
    wait_until(lambda: len(celery_deps.engine.store.event_attempts(evt)) == 2, timeout=20)
    assert [(r.answered, r.verified, r.event["id"]) for r in receiver.received] == [(500, True, evt), (200, True, evt)]
    stored = celery_deps.engine.store.get_event(evt)
    assert stored is not None and stored.deliveries[DeliveryKind.HOOK].state is DeliveryState.DELIVERED


@pytest.fixture
def standin() -> Iterator[TwilioStandIn]:
    with TwilioStandIn(auth_token=TWILIO_TOKEN) as server:
        yield server


def test_sends_the_provider_refuses_tell_the_clinic(
    redis_url: str, tmp_path: Path, standin: TwilioStandIn, clinics: ClinicStore, receiver: WebhookReceiver
) -> None:
    sms = TwilioSmsChannel(
        account_sid="AC" + "0" * 32, auth_token=TWILIO_TOKEN, from_number="+15005550006",
        api_base_url=standin.base_url, timeout_seconds=2,
    )  # fmt: skip
    deps = make_deps(
        redis_url, tmp_path / "outbox.jsonl", channels={"sms": sms, "email": OutboxChannel("email", tmp_path / "o")}
    )
    clock = deps.engine.clock
    cid, _ = add_clinic(clinics, "Riverside", None, None, clock.now())
    _url, receiver.secret = register_webhook(clinics, deps.engine.keyring, cid, receiver.url, production=False)
    standin.script(["400:21211", "400:21610"])
    first, _ = enroll(deps.engine, new_enrollment("p-1", clinic_id=cid, channels=("sms",), phone="+14155550101"))
    second, _ = enroll(deps.engine, new_enrollment("p-2", clinic_id=cid, channels=("sms",), phone="+14155550102"))
    dispatch_once(deps, send_inline(deps))
    deliver_due(deps)
    failed = {
        r.event["data"]["enrollment_id"]: r.event["data"]
        for r in receiver.received
        if r.event["type"] == "message.failed"
    }
    assert sorted(d["reason"] for d in failed.values()) == ["21211", "21610"]
    assert {d["message_id"] for d in failed.values()} == {f"{first.id}.welcome.sms.1", f"{second.id}.welcome.sms.1"}
    [opted_out] = [r.event["data"] for r in receiver.received if r.event["type"] == "enrollment.opted_out"]
    assert failed[opted_out["enrollment_id"]]["reason"] == "21610" and opted_out["source"] == "provider"
    assert len(receiver.received) == 3 and all(r.verified for r in receiver.received)


def test_a_delivery_whose_task_was_lost_comes_back_when_its_lease_ends(
    deps: DeliveryDeps, cid: str, receiver: WebhookReceiver
) -> None:
    evt = reply_event(deps, cid)
    store = deps.engine.store
    assert store.claim_deliveries(deps.engine.clock.now(), 10, 0, 50) == [f"hook:{evt}"]  # a lease that ends at once
    assert deliver_due(deps) == [DeliveryState.DELIVERED]  # reaped, claimed again, delivered
    assert [r.event["id"] for r in receiver.received] == [evt]
    assert store.claim_deliveries(deps.engine.clock.now(), 10, 60_000, 1) == []  # nothing left
