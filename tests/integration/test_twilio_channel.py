"""The SMS channel through the real twilio library against the local, spec-checked stand-in."""

from __future__ import annotations

import base64
import json
import logging
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3

from tests.support.messages import outgoing
from tests.support.twilio_standin import (
    SPEC_FILE,
    TwilioStandIn,
    message_properties,
    message_validator,
    parse_fault,
    spec_path,
)
from worker.channels.base import OutgoingMessage, Sender, SendResult
from worker.channels.timeouts import call_deadline
from worker.channels.twilio_sms import TwilioSmsChannel, classify
from worker.contact import mask_phone
from worker.errors import AmbiguousChannelError, ChannelError, PermanentChannelError, TransientChannelError

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-token"
SERVICE_SID = "MG" + "fedcba9876543210" * 2
NOW = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
SID = re.compile(r"^SM[0-9a-f]{32}$")
CALLBACK = "http://localhost:8000/webhooks/twilio/status"
NO_POOL: Any = None  # urllib3 exceptions built by hand, without a connection pool

ChannelFactory = Callable[..., TwilioSmsChannel]


def sms(n: int = 0, **changes: Any) -> OutgoingMessage:
    body = "Hi Ana, drink water. Reply STOP to opt out."
    return outgoing(n, **{"body": body, "status_callback_url": CALLBACK, **changes})


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def standin() -> Iterator[TwilioStandIn]:
    with TwilioStandIn(auth_token=AUTH_TOKEN) as server:
        yield server


@pytest.fixture
def make_channel(standin: TwilioStandIn) -> Iterator[ChannelFactory]:
    made: list[TwilioSmsChannel] = []

    def make(**overrides: Any) -> TwilioSmsChannel:
        args: dict[str, Any] = {
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "from_number": "+15005550006",
            "api_base_url": standin.base_url,
            "timeout_seconds": 2,
        }
        args.update(overrides)
        channel = TwilioSmsChannel(**args)
        made.append(channel)
        return channel

    yield make
    for channel in made:
        channel.close()


def test_send_returns_the_sid_and_the_request_meets_the_contract(
    standin: TwilioStandIn, make_channel: ChannelFactory
) -> None:
    result = make_channel().send(sms(), now=NOW)

    assert SID.match(result.provider_id)
    assert result.sent_at == NOW
    assert standin.violations == []
    (form,) = standin.requests
    assert form == {
        "To": "+15551234567",
        "From": "+15005550006",
        "Body": "Hi Ana, drink water. Reply STOP to opt out.",
        "StatusCallback": CALLBACK,
        "ValidityPeriod": "14400",
    }
    assert standin.messages[0]["sid"] == result.provider_id


def test_messaging_service_replaces_from(standin: TwilioStandIn, make_channel: ChannelFactory) -> None:
    channel = make_channel(from_number=None, messaging_service_sid=SERVICE_SID, validity_period_seconds=600)
    channel.send(sms(status_callback_url=None), now=NOW)

    assert standin.violations == []
    (form,) = standin.requests
    assert form["MessagingServiceSid"] == SERVICE_SID
    assert form["ValidityPeriod"] == "600"
    assert "From" not in form and "StatusCallback" not in form
    assert standin.messages[0]["from"] is None


def test_twilio_channel_is_a_channel(make_channel: ChannelFactory) -> None:
    channel: Sender = make_channel()  # checked by mypy
    assert (channel.name, channel.batch_size, channel.parallelism) == ("sms", 16, 16)


def test_exactly_one_sender_is_required() -> None:
    base: dict[str, Any] = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}
    with pytest.raises(ValueError, match="exactly one"):
        TwilioSmsChannel(**base)
    with pytest.raises(ValueError, match="exactly one"):
        TwilioSmsChannel(**base, from_number="+15005550006", messaging_service_sid=SERVICE_SID)


@pytest.mark.parametrize(
    ("fault", "error", "code", "opt_out"),
    [
        ("429", TransientChannelError, "20429", False),
        ("500", TransientChannelError, "20500", False),
        ("503", TransientChannelError, "20503", False),
        ("400:21211", PermanentChannelError, "21211", False),
        ("400:21610", PermanentChannelError, "21610", True),
        ("problem:429:20429", TransientChannelError, "20429", False),  # TwilioServiceException
        ("problem:400:21610", PermanentChannelError, "21610", True),
    ],
)
def test_provider_answers_are_classified(
    standin: TwilioStandIn,
    make_channel: ChannelFactory,
    fault: str,
    error: type[ChannelError],
    code: str,
    opt_out: bool,
) -> None:
    standin.script([fault])
    with pytest.raises(error) as raised:
        make_channel().send(sms(), now=NOW)

    assert raised.value.code == code
    assert getattr(raised.value, "opt_out", False) is opt_out
    assert "+1555" not in str(raised.value)  # no phone number in error text
    assert raised.value.__cause__ is None  # Twilio's own message (which may quote it) is not chained
    assert standin.violations == []


def test_retry_after_transient_errors_succeeds(standin: TwilioStandIn, make_channel: ChannelFactory) -> None:
    # The calls of one send_many go at once: each request's fault is chosen by its number.
    faults = {"+15550000000": "429", "+15550000001": "500", "+15550000002": "ok"}
    standin.script(lambda _index, form: faults[form["To"]])
    channel = make_channel()
    outcomes = channel.send_many([sms(n, to=f"+1555000000{n}") for n in range(3)], now=NOW)

    assert [type(o).__name__ for o in outcomes] == ["TransientChannelError", "TransientChannelError", "SendResult"]
    assert standin.stats() == {"requests": 3, "error": 2, "ok": 1}


def test_connection_dropped_after_the_request_is_ambiguous(
    standin: TwilioStandIn, make_channel: ChannelFactory
) -> None:
    standin.script(["drop"])
    with pytest.raises(AmbiguousChannelError):
        make_channel().send(sms(), now=NOW)
    assert len(standin.requests) == 1  # Twilio did receive it


def test_no_answer_within_the_timeout_is_ambiguous(standin: TwilioStandIn, make_channel: ChannelFactory) -> None:
    standin.hang_seconds = 1.0
    standin.script(["hang"])
    with pytest.raises(AmbiguousChannelError, match="in time"):
        make_channel(timeout_seconds=0.3).send(sms(), now=NOW)


def test_connection_refused_is_transient(make_channel: ChannelFactory) -> None:
    channel = make_channel(api_base_url=f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(TransientChannelError) as raised:
        channel.send(sms(), now=NOW)
    assert raised.value.code == "connect"


def test_environment_cannot_redirect_the_client(
    standin: TwilioStandIn, make_channel: ChannelFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{closed_port()}")
    make_channel().send(sms(), now=NOW)
    assert standin.violations == [] and len(standin.messages) == 1


def test_parallel_sends_from_sixteen_threads(standin: TwilioStandIn, make_channel: ChannelFactory) -> None:
    channel = make_channel()
    with ThreadPoolExecutor(max_workers=channel.parallelism) as pool:
        results = list(pool.map(lambda n: channel.send(sms(n), now=NOW), range(64)))

    assert len({r.provider_id for r in results}) == 64
    assert standin.violations == []
    assert {m["sid"] for m in standin.messages} == {r.provider_id for r in results}


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (requests.exceptions.ConnectTimeout("connect timed out"), TransientChannelError),
        (
            requests.exceptions.ConnectionError(
                urllib3.exceptions.MaxRetryError(
                    NO_POOL, "/", urllib3.exceptions.NewConnectionError(NO_POOL, "refused")
                )
            ),
            TransientChannelError,
        ),
        (requests.exceptions.ReadTimeout("read timed out"), AmbiguousChannelError),
        (
            requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted.")),
            AmbiguousChannelError,
        ),
        (requests.exceptions.SSLError("EOF occurred in violation of protocol"), AmbiguousChannelError),
        (ValueError("Expecting value: line 1 column 1"), AmbiguousChannelError),  # a 201 with a bad body
    ],
)
def test_transport_failures_are_classified(exc: BaseException, expected: type[ChannelError]) -> None:
    assert type(classify(exc)) is expected


# --- the stand-in itself ------------------------------------------------------------------


def post(
    standin: TwilioStandIn, form: str, *, account: str = ACCOUNT_SID, auth: str | None = AUTH_TOKEN
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{standin.base_url}/2010-04-01/Accounts/{account}/Messages.json",
        data=form.encode(),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{account}:{auth}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return int(refused.code), json.loads(refused.read())


def test_standin_answers_with_a_message_of_the_spec_shape(standin: TwilioStandIn) -> None:
    status, body = post(standin, "To=%2B15551234567&From=%2B15005550006&Body=Hola+%C2%BFc%C3%B3mo+est%C3%A1%3F")

    assert status == 201
    assert list(message_validator().iter_errors(body)) == []
    assert set(body) == message_properties()
    assert SID.match(body["sid"]) and body["status"] == "queued"
    assert body["account_sid"] == ACCOUNT_SID and body["uri"].endswith(f"/Messages/{body['sid']}.json")


def test_message_validator_rejects_a_wrong_shape() -> None:
    assert list(message_validator().iter_errors({"sid": "XX1", "status": "lost", "date_created": "yesterday"}))


@pytest.mark.parametrize(
    ("form", "auth", "status", "code"),
    [
        ("From=%2B15005550006&Body=hi", AUTH_TOKEN, 400, 21604),  # no To
        ("To=5551234567&From=%2B15005550006&Body=hi", AUTH_TOKEN, 400, 21211),  # not E.164
        ("To=%2B15551234567&Body=hi", AUTH_TOKEN, 400, 21603),  # no sender
        ("To=%2B15551234567&From=%2B15005550006", AUTH_TOKEN, 400, 21602),  # no Body
        ("To=%2B15551234567&From=%2B15005550006&Body=hi&Colour=red", AUTH_TOKEN, 400, 20001),
        ("To=%2B15551234567&From=%2B15005550006&Body=hi&ValidityPeriod=soon", AUTH_TOKEN, 400, 20001),
        ("To=%2B15551234567&From=%2B15005550006&Body=hi&StatusCallback=http://my_host/cb", AUTH_TOKEN, 400, 20001),
        ("To=%2B15551234567&From=%2B15005550006&Body=hi", None, 401, 20003),
        ("To=%2B15551234567&From=%2B15005550006&Body=hi", "wrong", 401, 20003),
    ],
)
def test_standin_refuses_and_records_contract_violations(
    standin: TwilioStandIn, form: str, auth: str | None, status: int, code: int
) -> None:
    answer_status, body = post(standin, form, auth=auth)

    assert (answer_status, body["code"]) == (status, code)
    assert set(body) == {"code", "message", "more_info", "status"}
    assert standin.violations and standin.violations[0].code == code
    assert standin.messages == []


def test_standin_fault_syntax() -> None:
    assert parse_fault("400:21610").code == 21610
    assert parse_fault("429").code == 20429
    assert parse_fault("delay:0.25").seconds == 0.25
    with pytest.raises(ValueError, match="unknown"):
        parse_fault("teapot")


def test_standin_script_can_be_a_function(standin: TwilioStandIn, make_channel: ChannelFactory) -> None:
    standin.script(lambda index, form: "400:21610" if form["To"].endswith("9999") else "ok")
    channel = make_channel()
    outcomes = channel.send_many([sms(0), sms(1, to="+15550009999")], now=NOW)

    assert outcomes[0].__class__.__name__ == "SendResult"
    assert isinstance(outcomes[1], PermanentChannelError) and outcomes[1].opt_out


def test_mask_phone_keeps_the_last_four_digits() -> None:
    assert mask_phone("+15551234567") == "***4567"
    assert mask_phone("whatsapp:+15551234567") == "***4567"
    assert mask_phone("+123") == "***"


def test_delay_fault_answers_ok_late(standin: TwilioStandIn, make_channel: ChannelFactory) -> None:
    standin.script(["delay:0.05"])
    assert SID.match(make_channel().send(sms(), now=NOW).provider_id)
    assert standin.stats()["delay"] == 1


def test_spec_lives_in_the_checkout() -> None:
    """The contract the stand-in checks against is in the repository (with its licence), not beside it."""
    root = Path(__file__).resolve().parents[2]
    assert spec_path() == root / "tests" / "fixtures" / "twilio" / SPEC_FILE
    assert spec_path().is_file() and (spec_path().parent / "LICENSE").is_file()


def test_send_many_calls_twilio_for_a_whole_chunk_at_once(standin: TwilioStandIn, make_channel: ChannelFactory) -> None:
    standin.latency_seconds = 0.2
    channel = make_channel()
    messages = [sms(n, to=f"+155500000{n:02d}") for n in range(channel.batch_size)]
    started = time.monotonic()
    results = channel.send_many(messages, now=NOW)
    took = time.monotonic() - started

    assert took < 0.2 * len(messages) / 4, f"{len(messages)} calls of 0.2 s took {took:.2f} s: not at once"
    to_by_sid = {m["sid"]: m["to"] for m in standin.messages}
    assert [to_by_sid[r.provider_id] for r in results if isinstance(r, SendResult)] == [m.to for m in messages]
    assert standin.violations == []


def test_connections_are_kept_alive_from_chunk_to_chunk(standin: TwilioStandIn, make_channel: ChannelFactory) -> None:
    channel = make_channel()
    for chunk in range(3):
        results = channel.send_many([sms(n, to=f"+15550001{chunk}{n:02d}") for n in range(16)], now=NOW)
        assert all(isinstance(r, SendResult) for r in results)
    channel.send(sms(), now=NOW)

    assert len(standin.messages) == 49
    assert standin.connections_accepted <= 16  # one per call in flight at once, not one per chunk


def test_every_call_of_a_chunk_keeps_the_batch_deadline(standin: TwilioStandIn, make_channel: ChannelFactory) -> None:
    standin.hang_seconds = 2.0
    standin.script(lambda _index, _form: "hang")
    channel = make_channel(timeout_seconds=5)
    started = time.monotonic()
    with call_deadline(time.monotonic() + 0.3):
        results = channel.send_many([sms(n, to=f"+155500020{n:02d}") for n in range(4)], now=NOW)
    assert time.monotonic() - started < 1.5
    assert [(type(r), getattr(r, "code", None)) for r in results] == [(AmbiguousChannelError, "timeout")] * 4

    with call_deadline(time.monotonic() - 1):
        late = channel.send_many([sms(n, to=f"+155500030{n:02d}") for n in range(4)], now=NOW)
    assert [(type(r), getattr(r, "code", None)) for r in late] == [(TransientChannelError, "deadline")] * 4
    assert len(standin.requests) == 4  # none of the late calls was made


def test_a_closed_channel_opens_fresh_connections(standin: TwilioStandIn, make_channel: ChannelFactory) -> None:
    channel = make_channel()
    channel.send_many([sms(n, to=f"+155500040{n:02d}") for n in range(4)], now=NOW)
    channel.close()
    results = channel.send_many([sms(n, to=f"+155500050{n:02d}") for n in range(4)], now=NOW)

    assert all(isinstance(r, SendResult) for r in results)
    assert len(standin.messages) == 8


def test_the_librarys_request_lines_are_debug_detail(standin: TwilioStandIn, make_channel: ChannelFactory) -> None:
    """A `-l INFO` worker logs each outcome as one JSON line (worker.delivery.outcomes), not the
    twilio library's ten plain lines a call; at DEBUG they are there, without credentials."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    library = logging.getLogger("twilio.http_client")
    library.addHandler(handler)
    level = library.level
    try:
        library.setLevel(logging.INFO)
        make_channel().send(sms(), now=NOW)
        assert records == []
        library.setLevel(logging.DEBUG)
        make_channel().send(sms(1), now=NOW)
    finally:
        library.setLevel(level)
        library.removeHandler(handler)
    lines = [r.getMessage() for r in records]
    assert any(line.startswith("POST Request:") for line in lines)
    assert not any("Authorization" in line or AUTH_TOKEN in line or "+1555" in line for line in lines)
