"""Trust item 7: a replayed Twilio webhook (same `MessageSid`) acts once.

Twilio signs a request's URL and parameters, not its time, so a captured request stays valid:
replaying a signed START after a STOP must not opt the number back in. A replay answers like any
inbound SMS (200, empty TwiML) and does nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.api.conftest import PATIENT_PHONE, send_due, sign, twilio_post
from worker.delivery.types import DeliveryDeps
from worker.replays import REPLAY_WINDOW, act_once
from worker.store import Store
from worker.store.keys import seen_key

INBOUND = "/webhooks/twilio/inbound"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def inbound(body: str, sid: str) -> dict[str, str]:
    return {"From": PATIENT_PHONE, "To": "+14155550199", "Body": body, "MessageSid": sid}


def replay(anon: TestClient, path: str, params: dict[str, str], signature: str) -> Any:
    """The very same signed request, posted again (by an attacker who captured it, or a retry)."""
    return anon.post(path, data=params, headers={"X-Twilio-Signature": signature})


def test_a_replayed_start_after_a_stop_does_not_opt_back_in(anon: TestClient, store: Store) -> None:
    start = inbound("START", "SM" + "a" * 32)
    captured = sign(start, INBOUND)
    assert twilio_post(anon, INBOUND, inbound("STOP", "SM" + "b" * 32)).status_code == 200
    assert replay(anon, INBOUND, start, captured).status_code == 200  # first sighting: acts
    assert store.sms_opted_out([PATIENT_PHONE]) == [False]
    assert twilio_post(anon, INBOUND, inbound("STOP", "SM" + "c" * 32)).status_code == 200
    response = replay(anon, INBOUND, start, captured)
    assert (response.status_code, response.text) == (200, EMPTY_TWIML)
    assert store.sms_opted_out([PATIENT_PHONE]) == [True]


def test_a_replayed_stop_after_a_start_does_not_opt_out_again(anon: TestClient, store: Store) -> None:
    stop = inbound("STOP", "SM" + "d" * 32)
    captured = sign(stop, INBOUND)
    assert replay(anon, INBOUND, stop, captured).status_code == 200
    assert twilio_post(anon, INBOUND, inbound("START", "SM" + "e" * 32)).status_code == 200
    assert replay(anon, INBOUND, stop, captured).status_code == 200
    assert store.sms_opted_out([PATIENT_PHONE]) == [False]


def test_a_replayed_reply_is_kept_once_and_a_replayed_help_not_answered_twice(
    anon: TestClient, client: TestClient, enrolled: dict[str, Any]
) -> None:
    thanks = inbound("Thanks, see you", "SM" + "f" * 32)
    for _ in range(3):
        assert twilio_post(anon, INBOUND, thanks).status_code == 200
    assert [r["body"] for r in client.get("/v1/replies").json()["replies"]] == ["Thanks, see you"]
    help_ = inbound("HELP", "SM" + "1" * 32)
    assert "<Message>" in twilio_post(anon, INBOUND, help_).text
    assert twilio_post(anon, INBOUND, help_).text == EMPTY_TWIML


def test_a_replayed_21610_callback_after_start_does_not_opt_out_again(
    anon: TestClient, enrolled: dict[str, Any], delivery: DeliveryDeps, store: Store
) -> None:
    send_due(delivery)
    path = f"/webhooks/twilio/status?m={enrolled['id']}.welcome.sms.1"
    failed = {"MessageSid": "SM" + "2" * 32, "MessageStatus": "failed", "ErrorCode": "21610", "To": PATIENT_PHONE}
    captured = sign(failed, path)
    assert replay(anon, path, failed, captured).status_code == 204
    assert store.sms_opted_out([PATIENT_PHONE]) == [True]
    assert twilio_post(anon, INBOUND, inbound("START", "SM" + "3" * 32)).status_code == 200
    assert replay(anon, path, failed, captured).status_code == 204
    assert store.sms_opted_out([PATIENT_PHONE]) == [False]


def test_the_memory_of_a_message_id_is_bounded(anon: TestClient, store: Store) -> None:
    sid = "SM" + "4" * 32
    assert twilio_post(anon, INBOUND, inbound("STOP", sid)).status_code == 200
    ttl = store.redis.ttl(seen_key("inbound", sid))
    assert 0 < ttl <= REPLAY_WINDOW.total_seconds()


def test_an_action_that_fails_can_act_on_the_retry(store: Store) -> None:
    """Twilio retries a webhook that got an error: the failed first try must not count as done."""

    def broken() -> str:
        raise ConnectionError("redis went away mid-action")

    with pytest.raises(ConnectionError):
        act_once(store, "inbound", "SM" + "5" * 32, broken)
    assert act_once(store, "inbound", "SM" + "5" * 32, lambda: "acted") == "acted"
    assert act_once(store, "inbound", "SM" + "5" * 32, lambda: "acted") is None


def test_an_odd_message_id_is_kept_by_its_hash(store: Store) -> None:
    odd = "x" * 500 + ":*"
    assert act_once(store, "inbound", odd, lambda: 1) == 1
    assert act_once(store, "inbound", odd, lambda: 1) is None
    assert all(len(k) < 100 for k in store.redis.keys("cd:seen:*"))
