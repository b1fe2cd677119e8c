"""The email channel against a real SMTP server (aiosmtpd on loopback) with scripted faults."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from tests.support.messages import outgoing
from tests.support.smtp_server import SmtpTestServer, free_port, parse_smtp_fault
from worker.channels.base import OutgoingMessage, Sender, SendResult
from worker.channels.smtp_email import SmtpEmailChannel, message_id_for
from worker.contact import mask_email
from worker.errors import AmbiguousChannelError, ChannelError, PermanentChannelError, TransientChannelError

NOW = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
UNSUBSCRIBE = "http://localhost:8000/unsubscribe/tok-123"
MAIL_FROM = "Lakeside Clinic <noreply@clinic.example>"

ChannelFactory = Callable[..., SmtpEmailChannel]


def email(n: int = 0, **changes: Any) -> OutgoingMessage:
    spanish = {
        "channel": "email",
        "to": "ana@example.com",
        "body": "Hola Ana, ¿cómo está? Beba agua hoy.\n",
        "html": "<p>Hola Ana, ¿cómo está?</p>\n",
        "subject": "Recordatorio del día 1",
        "language": "es",
        "unsubscribe_url": UNSUBSCRIBE,
        "extra_headers": {"X-Caredrip-Step": "day1"},
    }
    return outgoing(n, **{**spanish, **changes})


def text_of(message: EmailMessage, subtype: str) -> str:
    """A part's decoded text with the wire's CRLF line ends back to LF."""
    part = message.get_body((subtype,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


@pytest.fixture
def make_channel(smtp: SmtpTestServer) -> Iterator[ChannelFactory]:
    made: list[SmtpEmailChannel] = []

    def make(**overrides: Any) -> SmtpEmailChannel:
        args: dict[str, Any] = {
            "host": smtp.host,
            "port": smtp.port,
            "mail_from": MAIL_FROM,
            "timeout_seconds": 2,
        }
        args.update(overrides)
        channel = SmtpEmailChannel(**args)
        made.append(channel)
        return channel

    yield make
    for channel in made:
        channel.close()


def test_delivers_multipart_text_and_html_with_list_unsubscribe(
    smtp: SmtpTestServer, make_channel: ChannelFactory
) -> None:
    result = make_channel().send(email(), now=NOW)

    (mail,) = smtp.messages
    message = mail.message
    assert (mail.mail_from, mail.rcpt_tos) == ("noreply@clinic.example", ["ana@example.com"])
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert text_of(message, "plain") == "Hola Ana, ¿cómo está? Beba agua hoy.\n"
    assert text_of(message, "html") == "<p>Hola Ana, ¿cómo está?</p>\n"
    assert message["Subject"] == "Recordatorio del día 1"
    assert message["Message-ID"] == result.provider_id == "<e0%3Aday1%3A0@caredrip>"
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["X-Caredrip-Step"] == "day1"
    assert parsedate_to_datetime(message["Date"]) == NOW
    assert mail.raw.isascii()  # 7-bit transfer encodings: any relay takes it
    assert smtp.ehlo_names == ["clinic.example"]


def test_smtp_channel_is_a_channel(make_channel: ChannelFactory) -> None:
    channel: Sender = make_channel()  # checked by mypy
    assert (channel.name, channel.batch_size, channel.parallelism) == ("email", 1, 4)


def test_starttls_not_offered_is_transient(make_channel: ChannelFactory) -> None:
    with pytest.raises(TransientChannelError) as raised:
        make_channel(starttls=True).send(email(), now=NOW)
    assert raised.value.code == "setup"


def test_text_only_without_unsubscribe_link(smtp: SmtpTestServer, make_channel: ChannelFactory) -> None:
    make_channel().send(email(html=None, unsubscribe_url=None, extra_headers={}), now=NOW)

    message = smtp.messages[0].message
    assert message.get_content_type() == "text/plain"
    assert "List-Unsubscribe" not in message and "List-Unsubscribe-Post" not in message


def test_one_connection_serves_many_messages(smtp: SmtpTestServer, make_channel: ChannelFactory) -> None:
    results = make_channel().send_many([email(n) for n in range(5)], now=NOW)

    assert all(isinstance(r, SendResult) for r in results)
    assert len(smtp.messages) == 5
    assert smtp.counts["ehlo"] == 1


def test_a_dead_reused_connection_is_replaced_once(smtp: SmtpTestServer, make_channel: ChannelFactory) -> None:
    channel = make_channel()
    channel.send(email(0), now=NOW)
    smtp.script(["disconnect@mail"])  # e.g. the relay closed the idle connection

    channel.send(email(1), now=NOW)
    assert [m.message["Message-ID"] for m in smtp.messages] == ["<e0%3Aday1%3A0@caredrip>", "<e1%3Aday1%3A0@caredrip>"]
    assert smtp.counts["ehlo"] == 2


@pytest.mark.parametrize(
    ("fault", "error", "code"),
    [
        ("451", TransientChannelError, "451"),  # RCPT 4xx
        ("450@mail", TransientChannelError, "450"),
        ("550", PermanentChannelError, "550"),  # recipient refused
        ("421@data", TransientChannelError, "421"),  # content refused, try later
        ("554@data", PermanentChannelError, "554"),
        ("disconnect@rcpt", TransientChannelError, "disconnected"),  # before DATA: not sent
        ("disconnect@data", AmbiguousChannelError, "data"),  # content sent, no answer
    ],
)
def test_server_answers_are_classified(
    smtp: SmtpTestServer, make_channel: ChannelFactory, fault: str, error: type[ChannelError], code: str
) -> None:
    smtp.script([fault])
    with pytest.raises(error) as raised:
        make_channel().send(email(), now=NOW)

    assert raised.value.code == code
    assert "ana@" not in str(raised.value)  # server reply text (which may quote it) is not kept
    assert smtp.messages == []


def test_no_reply_to_the_content_within_the_timeout_is_ambiguous(
    smtp: SmtpTestServer, make_channel: ChannelFactory
) -> None:
    smtp.hang_seconds = 1.0
    smtp.script(["hang@data"])
    with pytest.raises(AmbiguousChannelError):
        make_channel(timeout_seconds=0.3).send(email(), now=NOW)


def test_channel_recovers_after_a_failure(smtp: SmtpTestServer, make_channel: ChannelFactory) -> None:
    smtp.script(["451", "ok"])
    outcomes = make_channel().send_many([email(0), email(1)], now=NOW)

    assert isinstance(outcomes[0], TransientChannelError)
    assert isinstance(outcomes[1], SendResult)
    assert len(smtp.messages) == 1


def test_connection_refused_is_transient() -> None:
    channel = SmtpEmailChannel(host="127.0.0.1", port=free_port(), mail_from=MAIL_FROM, timeout_seconds=2)
    with pytest.raises(TransientChannelError) as raised:
        channel.send(email(), now=NOW)
    assert raised.value.code == "connect"


@pytest.mark.parametrize(
    "changes",
    [
        {"subject": "Hello\r\nBcc: everyone@example.com"},
        {"to": "ana@example.com\nBcc: everyone@example.com"},
        {"extra_headers": {"X-Note": "a\r\nBcc: b@example.com"}},
        {"unsubscribe_url": "http://x/u>, <mailto:evil@example.com"},
    ],
)
def test_header_injection_is_refused_before_connecting(
    smtp: SmtpTestServer, make_channel: ChannelFactory, changes: dict[str, Any]
) -> None:
    with pytest.raises(PermanentChannelError) as raised:
        make_channel().send(email(**changes), now=NOW)
    assert raised.value.code == "header-injection"
    assert smtp.counts.get("transactions", 0) == 0


def test_invalid_recipient_is_permanent(make_channel: ChannelFactory) -> None:
    with pytest.raises(PermanentChannelError) as raised:
        make_channel().send(email(to="not an address"), now=NOW)
    assert raised.value.code == "invalid-address"


def test_message_id_is_a_valid_msg_id_and_distinct_per_id() -> None:
    ids = ["e1:day1:0", "e1-day1-0", "e1%3Aday1%3A0", "a b<c>@d.e", "ñ", ""]
    made = [message_id_for(i) for i in ids]
    atext = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
    assert all(re.fullmatch(rf"<{atext}@caredrip>", m) for m in made), made
    assert len(set(made)) == len(made)


def test_login_then_send_and_refused_login_is_transient() -> None:
    with SmtpTestServer(auth=("clinic", "s3cret")) as server:
        good = SmtpEmailChannel(
            host=server.host,
            port=server.port,
            username="clinic",
            password="s3cret",
            mail_from=MAIL_FROM,
            timeout_seconds=2,
        )
        bad = SmtpEmailChannel(
            host=server.host,
            port=server.port,
            username="clinic",
            password="wrong",
            mail_from=MAIL_FROM,
            timeout_seconds=2,
        )
        try:
            good.send(email(), now=NOW)
            with pytest.raises(TransientChannelError) as raised:
                bad.send(email(), now=NOW)
        finally:
            good.close()
            bad.close()
    assert len(server.messages) == 1
    assert raised.value.code == "535"


def test_parallel_sends_use_one_connection_per_thread(smtp: SmtpTestServer, make_channel: ChannelFactory) -> None:
    channel = make_channel()
    with ThreadPoolExecutor(max_workers=channel.parallelism) as pool:
        results = list(pool.map(lambda n: channel.send(email(n), now=NOW), range(40)))

    assert len({r.provider_id for r in results}) == 40
    assert len(smtp.messages) == 40
    assert smtp.counts["ehlo"] <= channel.parallelism


def test_fault_syntax() -> None:
    assert parse_smtp_fault("451").phase == "rcpt"
    assert parse_smtp_fault("disconnect").phase == "data"
    with pytest.raises(ValueError, match="unknown"):
        parse_smtp_fault("451@quit")


def test_mask_email_keeps_the_first_letter_and_the_domain() -> None:
    assert mask_email("ana.garcia@example.com") == "a***@example.com"
    assert mask_email("not-an-address") == "***"
