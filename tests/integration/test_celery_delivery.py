"""Dispatch and send through a real Celery worker, the real twilio library against a stand-in,
and a real SMTP server on loopback, with a fixed clock that jumps between due instants."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.celery_worker import in_process_worker
from tests.support.engine import make_deps, new_enrollment, next_due
from tests.support.processes import celery_broker
from tests.support.redis_fixture import wait_until
from tests.support.smtp_server import SmtpTestServer
from tests.support.twilio_standin import TwilioStandIn
from worker import tasks, wiring
from worker.celery_app import app
from worker.channels.base import Sender
from worker.channels.smtp_email import SmtpEmailChannel
from worker.channels.twilio_sms import TwilioSmsChannel
from worker.delivery.types import DeliveryDeps
from worker.enrollment import enroll
from worker.programs import load_program
from worker.records import EnrollmentState, MessageState
from worker.store import FAILED_INDEX

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = load_program(ROOT / "content", "twitching")
ACCOUNT_SID = "AC" + "0" * 32
TOKEN = "test-auth-token"


@pytest.fixture
def standin() -> Iterator[TwilioStandIn]:
    with TwilioStandIn(auth_token=TOKEN) as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


def _deps(redis_url: str, tmp_path: Path, standin: TwilioStandIn, smtp: SmtpTestServer) -> DeliveryDeps:
    channels: dict[str, Sender] = {
        "sms": TwilioSmsChannel(
            account_sid=ACCOUNT_SID,
            auth_token=TOKEN,
            from_number="+15005550006",
            api_base_url=standin.base_url,
            timeout_seconds=2,
        ),
        "email": SmtpEmailChannel(host="127.0.0.1", port=smtp.port, starttls=False, mail_from="care@example.org"),
    }
    return make_deps(redis_url, tmp_path / "outbox.jsonl", channels=channels)


@pytest.fixture
def celery_deps(redis_url: str, tmp_path: Path, standin: TwilioStandIn, smtp: SmtpTestServer) -> Iterator[DeliveryDeps]:
    deps = _deps(redis_url, tmp_path, standin, smtp)
    wiring.reset()
    wiring.override(delivery=deps, engine=deps.engine)
    with celery_broker(app, redis_url), in_process_worker(app, pool="threads", queues=["dispatch", "send"]):
        yield deps
    wiring.reset()


def _settled(deps: DeliveryDeps) -> bool:
    store = deps.engine.store
    return all(store.in_flight(ch) == 0 for ch in deps.channels)


def _tick(deps: DeliveryDeps) -> None:
    """One dispatch through the Celery queue, then wait until every claimed batch was sent."""
    runs = deps.engine.store.dispatch_info().runs
    tasks.dispatch.apply_async(queue="dispatch")
    wait_until(lambda: deps.engine.store.dispatch_info().runs > runs and _settled(deps), timeout=20)


def _travel(deps: DeliveryDeps, max_ticks: int = 80) -> None:
    clock = deps.engine.clock
    for _ in range(max_ticks):
        _tick(deps)
        upcoming = next_due(deps)
        if upcoming is None:
            return
        clock.set(max(upcoming, clock.now()))  # type: ignore[attr-defined]
    raise AssertionError("program did not finish")


def test_whole_program_through_twilio_and_smtp(
    celery_deps: DeliveryDeps, standin: TwilioStandIn, smtp: SmtpTestServer
) -> None:
    enrollment, _ = enroll(celery_deps.engine, new_enrollment())
    _travel(celery_deps)
    assert standin.violations == []
    callbacks = [r["StatusCallback"] for r in standin.requests]
    assert len(callbacks) == len(set(callbacks)) == len(PROGRAM.steps_for("sms"))
    assert all("ValidityPeriod" in r and r["From"] == "+15005550006" for r in standin.requests)
    steps = [c.rsplit("?m=", 1)[1].split(".")[1] for c in callbacks]
    assert steps == [s.id for s in PROGRAM.steps_for("sms")]
    mails = smtp.messages
    assert len(mails) == len(PROGRAM.steps_for("email"))
    assert len({m.message["Message-ID"] for m in mails}) == len(mails)
    assert all(m.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for m in mails)
    stored = celery_deps.engine.store.get_enrollment(enrollment.id)
    assert stored is not None and stored.state is EnrollmentState.COMPLETED


def test_transient_errors_retry_then_succeed_and_21211_fails_once(
    celery_deps: DeliveryDeps, standin: TwilioStandIn
) -> None:
    standin.script(["429", "500", "ok", "400:21211"])
    ok, _ = enroll(celery_deps.engine, new_enrollment("p-ok", channels=("sms",), email=None))
    _tick(celery_deps)  # 429: retrying
    _tick(celery_deps)  # not due yet: backoff
    for _ in range(2):  # 500, then ok
        celery_deps.engine.clock.set(next_due(celery_deps))  # type: ignore[attr-defined]
        _tick(celery_deps)
    records = celery_deps.engine.store.records(ok.id)
    assert [(r.step, r.state, r.attempts) for r in records] == [("welcome", MessageState.SENT, 3)]
    bad, _ = enroll(celery_deps.engine, new_enrollment("p-bad", channels=("sms",), email=None, phone="+14155550100"))
    _tick(celery_deps)
    failed = celery_deps.engine.store.records(bad.id)
    assert [(r.state, r.reason, r.attempts) for r in failed] == [(MessageState.FAILED, "21211", 1)]
    assert Counter(s for s in standin.stats() if s) and standin.stats().get("requests") == 4
    assert celery_deps.engine.store.indexed_messages(FAILED_INDEX) == [f"{bad.id}.welcome.sms.1"]
