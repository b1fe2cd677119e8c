"""No record stays `retrying` when its message can no longer go (issue 13, item 17).

A send fails for a moment (the Twilio stand-in answers 500, the SMTP server 451) and its record
waits as `retrying`. Then the enrollment is canceled, paused or opted out, or the channel dropped:
the record ends `skipped` with the reason (`canceled`, `paused`, `opted_out`, `dropped`). A pause
is not a loss: resume makes the step due again (`queued`, its attempts kept) and it goes out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support.engine import make_deps, new_enrollment, outbox_lines, send_inline
from tests.support.smtp_server import SmtpTestServer
from tests.support.twilio_standin import TwilioStandIn
from worker.channels.outbox import OutboxChannel
from worker.channels.smtp_email import SmtpEmailChannel
from worker.channels.twilio_sms import TwilioSmsChannel
from worker.clock import FixedClock
from worker.delivery.dispatch import dispatch_once
from worker.delivery.types import DeliveryDeps
from worker.enrollment import EnrollmentChanges, cancel, enroll, pause, resume, update
from worker.optouts import OptOutSource, opt_out_sms, unsubscribe_email
from worker.records import MessageRecord, MessageState

TOKEN = "retrying-test-token"
NEW_YORK = ZoneInfo("America/New_York")
JUST_BEFORE_QUIET = datetime(2026, 3, 2, 20, 59, 59, tzinfo=NEW_YORK)  # a retry lands after 21:00


@pytest.fixture
def standin() -> Iterator[TwilioStandIn]:
    with TwilioStandIn(auth_token=TOKEN) as server:
        yield server


@pytest.fixture
def deps(redis_url: str, tmp_path: Path, standin: TwilioStandIn) -> Iterator[DeliveryDeps]:
    outbox = tmp_path / "outbox.jsonl"
    sms = TwilioSmsChannel(
        account_sid="AC" + "4" * 32, auth_token=TOKEN, from_number="+15005550006", api_base_url=standin.base_url
    )
    yield make_deps(redis_url, outbox, channels={"sms": sms, "email": OutboxChannel("email", outbox)})
    sms.close()


def one_pass(deps: DeliveryDeps) -> None:
    """One dispatch pass, sending what it claims in this process."""
    dispatch_once(deps, send_inline(deps))


def record(deps: DeliveryDeps, mid: str) -> MessageRecord:
    found = deps.engine.store.record(mid)
    assert found is not None, mid
    return found


def retrying_welcome(deps: DeliveryDeps, standin: TwilioStandIn, fault: str | Callable[..., str] = "500") -> str:
    """An SMS-only enrollment whose welcome failed once and waits as `retrying`; its id."""
    eid = enroll(deps.engine, new_enrollment(channels=("sms",), email=None))[0].id
    standin.script(fault if callable(fault) else [fault])
    one_pass(deps)
    return eid


def test_cancel_ends_a_retrying_record_as_skipped(deps: DeliveryDeps, standin: TwilioStandIn) -> None:
    eid = retrying_welcome(deps, standin)
    assert record(deps, f"{eid}.welcome.sms.1").state is MessageState.RETRYING
    cancel(deps.engine, eid)
    welcome = record(deps, f"{eid}.welcome.sms.1")
    assert (welcome.state, welcome.reason, welcome.attempts) == (MessageState.SKIPPED, "canceled", 1)


def test_pause_skips_a_retrying_record_and_resume_sends_it(
    deps: DeliveryDeps, standin: TwilioStandIn, tmp_path: Path
) -> None:
    eid = retrying_welcome(deps, standin)
    pause(deps.engine, eid)
    paused = record(deps, f"{eid}.welcome.sms.1")
    assert (paused.state, paused.reason) == (MessageState.SKIPPED, "paused")
    clock = deps.engine.clock
    assert isinstance(clock, FixedClock)
    clock.advance(hours=1)
    resume(deps.engine, eid)
    queued = record(deps, f"{eid}.welcome.sms.1")
    assert (queued.state, queued.attempts) == (MessageState.QUEUED, 1)  # due again, its attempt kept
    one_pass(deps)
    sent = record(deps, f"{eid}.welcome.sms.1")
    assert (sent.state, sent.attempts) == (MessageState.SENT, 2)
    assert len(standin.messages) == 1


def test_a_pause_while_the_provider_call_is_out_ends_its_retry_as_skipped(
    deps: DeliveryDeps, standin: TwilioStandIn
) -> None:
    """The pause lands while Twilio is being called and the call fails for a moment: the outcome is
    recorded `skipped` for `paused`, never a `retrying` left on a paused enrollment."""
    paused: list[str] = []

    def pause_then_fail(_index: int, _form: dict[str, str]) -> str:
        pause(deps.engine, paused[0])
        return "500"

    eid = enroll(deps.engine, new_enrollment(channels=("sms",), email=None))[0].id
    paused.append(eid)
    standin.script(pause_then_fail)
    one_pass(deps)
    welcome = record(deps, f"{eid}.welcome.sms.1")
    assert (welcome.state, welcome.reason) == (MessageState.SKIPPED, "paused")
    standin.script(["ok"])
    resume(deps.engine, eid)
    clock = deps.engine.clock
    assert isinstance(clock, FixedClock)
    clock.advance(minutes=1)  # past the retry's own time
    one_pass(deps)
    assert record(deps, f"{eid}.welcome.sms.1").state is MessageState.SENT


def test_stop_ends_a_retrying_sms_in_one_dispatch_pass_even_in_quiet_hours(
    deps: DeliveryDeps, standin: TwilioStandIn
) -> None:
    clock = deps.engine.clock
    assert isinstance(clock, FixedClock)
    clock.set(JUST_BEFORE_QUIET)
    eid = retrying_welcome(deps, standin)
    opt_out_sms(deps.engine.store, "+14155552671", clock.now(), OptOutSource.STOP)
    clock.advance(seconds=5)  # the retry is due, at 21:00:04: quiet hours would hold it until 08:00
    one_pass(deps)
    welcome = record(deps, f"{eid}.welcome.sms.1")
    assert (welcome.state, welcome.reason) == (MessageState.SKIPPED, "opted_out")
    assert len(standin.requests) == 1  # the failed try only


def test_an_email_unsubscribe_ends_a_retrying_email_in_one_dispatch_pass(redis_url: str, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    with SmtpTestServer() as server:
        email = SmtpEmailChannel(host=server.host, port=server.port, mail_from="Clinic <c@example.org>")
        deps = make_deps(redis_url, outbox, channels={"sms": OutboxChannel("sms", outbox), "email": email})
        clock = deps.engine.clock
        assert isinstance(clock, FixedClock)
        clock.set(JUST_BEFORE_QUIET)
        eid = enroll(deps.engine, new_enrollment(channels=("email",), phone=None))[0].id
        server.script(["451"])
        one_pass(deps)
        assert record(deps, f"{eid}.welcome.email.1").state is MessageState.RETRYING
        unsubscribe_email(deps.engine.store, eid, clock.now())
        clock.advance(seconds=5)
        one_pass(deps)
        email.close()
        assert server.messages == []
    welcome = record(deps, f"{eid}.welcome.email.1")
    assert (welcome.state, welcome.reason) == (MessageState.SKIPPED, "opted_out")


def test_a_dropped_channel_ends_its_retrying_record(deps: DeliveryDeps, standin: TwilioStandIn) -> None:
    eid = enroll(deps.engine, new_enrollment())[0].id
    standin.script(["500"])
    one_pass(deps)
    assert record(deps, f"{eid}.welcome.sms.1").state is MessageState.RETRYING
    update(deps.engine, eid, EnrollmentChanges(channels=("email",)))
    welcome = record(deps, f"{eid}.welcome.sms.1")
    assert (welcome.state, welcome.reason) == (MessageState.SKIPPED, "dropped")
    clock = deps.engine.clock
    assert isinstance(clock, FixedClock)
    clock.advance(timedelta(minutes=10))
    one_pass(deps)
    assert record(deps, f"{eid}.welcome.sms.1").state is MessageState.SKIPPED
    email = deps.channels["email"]
    assert isinstance(email, OutboxChannel)
    assert [m["channel"] for m in outbox_lines(email.path)] == ["email"]


def test_stop_ends_a_retrying_sms_in_one_pass_even_when_the_numbers_cap_is_full(
    deps: DeliveryDeps, standin: TwilioStandIn
) -> None:
    """Two enrollments to one number: the first one's welcome waits as `retrying`, the second's went
    (the number's 1 SMS a day is taken). After STOP the retry ends at its next pass, held neither by
    the number's cap nor by the hour."""
    first = retrying_welcome(deps, standin)
    standin.script(["ok"])
    enroll(deps.engine, new_enrollment("p-2", channels=("sms",), email=None))
    clock = deps.engine.clock
    assert isinstance(clock, FixedClock)
    clock.advance(seconds=1)
    one_pass(deps)
    assert len(standin.messages) == 1  # the second enrollment's welcome: the number's cap is full
    opt_out_sms(deps.engine.store, "+14155552671", clock.now(), OptOutSource.STOP)
    clock.advance(minutes=10)
    one_pass(deps)
    welcome = record(deps, f"{first}.welcome.sms.1")
    assert (welcome.state, welcome.reason) == (MessageState.SKIPPED, "opted_out")
