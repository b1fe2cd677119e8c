"""Provider faults through the real twilio library and a real SMTP server: timeouts, dropped
connections, 500 and 429 from the Twilio stand-in; refusals and disconnects from SMTP. Refused
messages are retried and sent once; ambiguous ones become `unknown` and are never re-sent."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

from tests.support.accounting import assert_adds_up, message_ids_at_standin
from tests.support.engine import make_deps, new_enrollment, run_until_idle
from tests.support.smtp_server import SmtpTestServer
from tests.support.twilio_standin import TwilioStandIn
from worker.channels.smtp_email import SmtpEmailChannel
from worker.channels.twilio_sms import TwilioSmsChannel
from worker.enrollment import enroll
from worker.records import MessageState, message_id

TOKEN = "provider-fault-token"
SMS_FAULTS = {1: "500", 3: "429", 5: "hang", 7: "drop", 9: "problem:429:20429"}  # by enrollment index % 10
EXPECTED = {"ok": (MessageState.SENT, 1, ""), "500": (MessageState.SENT, 2, ""), "429": (MessageState.SENT, 2, ""),
            "problem:429:20429": (MessageState.SENT, 2, ""), "hang": (MessageState.UNKNOWN, 1, "timeout"),
            "drop": (MessageState.UNKNOWN, 1, "connection")}


def test_twilio_timeouts_drops_500_and_429(redis_url: str, tmp_path: Path) -> None:
    """50 SMS, 15 of them first answered 500 or 429 (retried, then sent once) and 10 hung
    past the client timeout or dropped (unknown, never re-sent): sent + unknown == 50."""
    total = 50
    first_fault: dict[str, str] = {}

    def script(_index: int, form: dict[str, str]) -> str:
        mid = form["StatusCallback"].rsplit("?m=", 1)[1]
        if mid in first_fault:
            return "ok"
        first_fault[mid] = plan[mid]
        return plan[mid]

    with TwilioStandIn(auth_token=TOKEN, hang_seconds=1.0) as standin:
        sms = TwilioSmsChannel(account_sid="AC" + "3" * 32, auth_token=TOKEN, from_number="+15005550006",
                               api_base_url=standin.base_url, timeout_seconds=0.5)
        deps = make_deps(redis_url, tmp_path / "outbox.jsonl", channels={"sms": sms})
        eids = [enroll(deps.engine, new_enrollment(f"t-{i}", channels=("sms",), email=None,
                                                   phone=f"+1415555{i:04d}"))[0].id for i in range(total)]
        plan = {message_id(e, "welcome", "sms"): SMS_FAULTS.get(i % 10, "ok") for i, e in enumerate(eids)}
        standin.script(script)
        run_until_idle(deps, until=deps.engine.clock.now() + timedelta(hours=2))
        requests = message_ids_at_standin(standin)
    states = assert_adds_up(deps.engine.store, eids, "welcome", "sms")
    for mid, fault in plan.items():
        record = deps.engine.store.record(mid)
        state, attempts, reason = EXPECTED[fault]
        assert record is not None and record.state is state, (fault, record)
        assert requests[mid] == attempts, f"{fault}: {requests[mid]} requests"
        assert record.attempts == attempts and (not reason or record.reason == reason), (fault, record)
    assert states == Counter({MessageState.SENT: 40, MessageState.UNKNOWN: 10})
    print(f"\nRELIABILITY twilio faults: {dict(Counter(plan.values()))} -> {dict(states)}")


def test_smtp_refusals_and_disconnects(redis_url: str, tmp_path: Path) -> None:
    """20 emails while the SMTP server answers 451/452/421 (retried, then sent once), 550/554
    (failed with the code as reason) and hangs up during DATA (unknown): the count adds up and no
    email is accepted twice."""
    total = 20
    with SmtpTestServer() as smtp:
        smtp.script(["451", "disconnect@data", "550", "421@data", "disconnect@rcpt", "452", "554@data"])
        email = SmtpEmailChannel(host="127.0.0.1", port=smtp.port, starttls=False, mail_from="care@example.org",
                                 timeout_seconds=2)
        deps = make_deps(redis_url, tmp_path / "outbox.jsonl", channels={"email": email})
        eids = [enroll(deps.engine, new_enrollment(f"m-{i}", channels=("email",), phone=None,
                                                   email=f"patient{i}@example.com"))[0].id for i in range(total)]
        run_until_idle(deps, until=deps.engine.clock.now() + timedelta(hours=2))
        email.close()
        mails = list(smtp.messages)
    states = assert_adds_up(deps.engine.store, eids, "welcome", "email")
    assert states == Counter({MessageState.SENT: 17, MessageState.FAILED: 2, MessageState.UNKNOWN: 1})
    records = [deps.engine.store.record(message_id(e, "welcome", "email")) for e in eids]
    assert sorted(r.reason for r in records if r and r.state is MessageState.FAILED) == ["550", "554"]
    assert [r.reason for r in records if r and r.state is MessageState.UNKNOWN] == ["data"]
    recipients = Counter(rcpt for m in mails for rcpt in m.rcpt_tos)
    assert max(recipients.values()) == 1, "an email was accepted twice"
    assert len(mails) == 17
    print(f"\nRELIABILITY smtp faults: {dict(states)}")
