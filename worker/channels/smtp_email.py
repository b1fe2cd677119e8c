"""The SMTP email channel: builds each patient email and hands it to an SMTP relay.

It owns the email's shape (multipart/alternative text + HTML, a Message-ID derived from the
message id, RFC 8058 one-click List-Unsubscribe headers, the message's extra headers), one
reused SMTP connection per sending thread (each socket wait bounded by its timeout, cut to the
send batch's deadline: worker.channels.timeouts), and the classification of failures: Transient when
the relay certainly did not take the message (no connection, 4xx, disconnect before DATA),
Permanent for 5xx and for messages that can never be sent (CR/LF in a header, bad address),
Ambiguous when the connection fails once the message content may have been transmitted.
Error reasons carry SMTP codes only, never the server's reply text, which may quote the address.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import string
import threading
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from worker.channels.base import OutgoingMessage, SendResult, send_each
from worker.channels.timeouts import call_timeout
from worker.clock import utc
from worker.errors import (
    AmbiguousChannelError,
    ChannelError,
    PermanentChannelError,
    TransientChannelError,
)

# 7-bit transfer encodings for plain ASCII addresses; SMTPUTF8 when an address needs it.
_ASCII_POLICY = policy.SMTP.clone(cte_type="7bit")
_UTF8_POLICY = policy.SMTPUTF8
# Headers the channel sets itself; extra_headers may not replace them.
_OWN_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "list-unsubscribe",
        "list-unsubscribe-post",
    }
)
# RFC 5322 atext without "%" (our escape character); no "." so no dot-atom rules to follow.
_MSGID_SAFE = frozenset(string.ascii_letters + string.digits + "!#$&'*+-/=?^_`{|}~")
_ENHANCED_STATUS = re.compile(rb"^[245]\.\d{1,3}\.\d{1,3}\b")


def message_id_for(message_id: str) -> str:
    """`<id@caredrip>` with every character outside RFC 5322 atext (and `%`) as %XX: injective."""
    left = "".join(c if c in _MSGID_SAFE else _percent(c) for c in message_id) or "-"
    return f"<{left}@caredrip>"


def _percent(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))


def build_email(message: OutgoingMessage, *, mail_from: str, now: datetime) -> EmailMessage:
    """The RFC 5322 message for `message`; PermanentChannelError if it can never be valid."""
    _refuse_line_breaks(message)
    international = not (message.to + mail_from).isascii()
    email = EmailMessage(policy=_UTF8_POLICY if international else _ASCII_POLICY)
    try:
        email["From"] = mail_from
        email["To"] = message.to
        email["Subject"] = message.subject or ""
        email["Date"] = format_datetime(utc(now))
        email["Message-ID"] = message_id_for(message.id)
        if message.unsubscribe_url:
            email["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
            email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        for name, value in message.extra_headers.items():
            if name.lower() in _OWN_HEADERS:
                raise PermanentChannelError(f"extra header {name} is set by the channel", code="invalid-header")
            email[name] = value
        email.set_content(message.body)
        if message.html is not None:
            email.add_alternative(message.html, subtype="html")
    except (ValueError, TypeError):  # not chained: the error text may quote header values
        raise PermanentChannelError("email could not be built", code="invalid-message") from None
    if email["To"].defects or len(email["To"].addresses) != 1:
        raise PermanentChannelError("recipient is not one valid address", code="invalid-address")
    return email


def _refuse_line_breaks(message: OutgoingMessage) -> None:
    values = [message.to, message.subject or "", message.unsubscribe_url or ""]
    values += [*message.extra_headers, *message.extra_headers.values()]
    if any("\r" in value or "\n" in value for value in values):
        raise PermanentChannelError("CR or LF in an email header", code="header-injection")
    if ">" in (message.unsubscribe_url or ""):
        raise PermanentChannelError("'>' in the unsubscribe URL", code="header-injection")


class SmtpEmailChannel:
    """Sends email through one SMTP relay; up to `parallelism` threads, one connection each."""

    name = "email"
    batch_size = 1
    parallelism = 4

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        mail_from: str,
        timeout_seconds: float = 15,
    ) -> None:
        envelope_from = parseaddr(mail_from)[1]
        if "@" not in envelope_from:
            raise ValueError("MAIL_FROM must contain an email address")
        if (username is None) != (password is None):
            raise ValueError("SMTP_USERNAME and SMTP_PASSWORD go together")
        self._host = host
        self._port = port
        self._credentials = (username, password) if username is not None and password is not None else None
        self._starttls = starttls
        self._mail_from = mail_from
        self._envelope_from = envelope_from
        # EHLO with the sender's domain, not socket.getfqdn() (a DNS lookup that can hang).
        self._helo = Address(addr_spec=envelope_from).domain if envelope_from.isascii() else None
        self._timeout = timeout_seconds
        self._local = threading.local()
        self._open: set[smtplib.SMTP] = set()
        self._open_lock = threading.Lock()

    def send(self, message: OutgoingMessage, *, now: datetime) -> SendResult:
        email = build_email(message, mail_from=self._mail_from, now=now)
        timeout = call_timeout(self._timeout)  # never past the send batch's deadline
        try:
            self._deliver(email, message.to, timeout)
        except ChannelError:
            self._drop()  # a failed transaction leaves the session in an unknown state
            raise
        return SendResult(provider_id=str(email["Message-ID"]), sent_at=utc(now))

    def send_many(self, messages: list[OutgoingMessage], *, now: datetime) -> list[SendResult | Exception]:
        return send_each(lambda message: self.send(message, now=now), messages)

    def close(self) -> None:
        """QUIT every open connection (call when no send is in flight)."""
        with self._open_lock:
            connections, self._open = self._open, set()
        for connection in connections:
            _quit(connection)
        self._local = threading.local()

    def _deliver(self, email: EmailMessage, to: str, timeout: float) -> None:
        international = email.policy is _UTF8_POLICY
        connection = self._start_transaction(to, international=international, timeout=timeout)
        try:
            code, _reply = connection.data(email.as_bytes())
        except smtplib.SMTPDataError as exc:  # DATA itself refused: the content never went
            raise _refusal("DATA", exc.smtp_code, exc.smtp_error) from None  # reply may quote the address
        except (smtplib.SMTPException, OSError) as exc:
            raise AmbiguousChannelError("SMTP connection lost during DATA", code="data") from exc
        if code != 250:
            raise _refusal("message content", code, _reply)

    def _start_transaction(self, to: str, *, international: bool, timeout: float) -> smtplib.SMTP:
        """MAIL FROM + RCPT TO; one reconnect if a reused connection turns out to be dead."""
        connection, reused = self._connection(timeout)
        try:
            self._envelope(connection, to, international=international)
        except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
            self._drop()
            if not reused:
                raise TransientChannelError("SMTP server hung up", code="disconnected") from exc
            connection, _ = self._connection(timeout)
            try:
                self._envelope(connection, to, international=international)
            except (smtplib.SMTPException, OSError) as again:
                raise _before_data(again) from _safe_cause(again)
        except (smtplib.SMTPException, OSError) as exc:
            raise _before_data(exc) from _safe_cause(exc)
        return connection

    def _envelope(self, connection: smtplib.SMTP, to: str, *, international: bool) -> None:
        options = ["SMTPUTF8", "BODY=8BITMIME"] if international else []
        code, reply = connection.mail(self._envelope_from, options)
        if code != 250:
            raise _refusal("MAIL FROM", code, reply)
        code, reply = connection.rcpt(to)
        if code not in (250, 251):
            raise _refusal("RCPT TO", code, reply)

    def _connection(self, timeout: float) -> tuple[smtplib.SMTP, bool]:
        """This thread's connection, each socket wait bounded by `timeout`, and whether it was
        reused (opened by an earlier send)."""
        connection: smtplib.SMTP | None = getattr(self._local, "connection", None)
        if connection is not None:
            connection.timeout = timeout
            if connection.sock is not None:
                connection.sock.settimeout(timeout)
            return connection, True
        connection = self._connect(timeout)
        self._local.connection = connection
        with self._open_lock:
            self._open.add(connection)
        return connection, False

    def _connect(self, timeout: float) -> smtplib.SMTP:
        try:
            connection = smtplib.SMTP(self._host, self._port, local_hostname=self._helo, timeout=timeout)
        except smtplib.SMTPResponseException as exc:  # a greeting other than 220
            raise TransientChannelError("SMTP server refused the connection", code=str(exc.smtp_code)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientChannelError("could not connect to SMTP server", code="connect") from exc
        try:
            connection.ehlo_or_helo_if_needed()
            if self._starttls:
                connection.starttls(context=ssl.create_default_context())
                connection.ehlo()
            if self._credentials is not None:
                connection.login(*self._credentials)
        except smtplib.SMTPResponseException as exc:  # also a refused login: fix, then retry
            connection.close()
            raise TransientChannelError("SMTP session setup refused", code=str(exc.smtp_code)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            connection.close()
            raise TransientChannelError("SMTP session setup failed", code="setup") from exc
        return connection

    def _drop(self) -> None:
        connection: smtplib.SMTP | None = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            with self._open_lock:
                self._open.discard(connection)
            connection.close()


def _before_data(exc: BaseException) -> ChannelError:
    """A failure before any content was sent: the relay did not take the message."""
    if isinstance(exc, ChannelError):
        return exc
    if isinstance(exc, smtplib.SMTPNotSupportedError):  # SMTPUTF8 needed, not offered
        return PermanentChannelError("SMTP server cannot take this address", code="smtputf8")
    if isinstance(exc, smtplib.SMTPResponseException):
        return _refusal("SMTP", exc.smtp_code, exc.smtp_error)
    return TransientChannelError("SMTP connection failed before DATA", code="disconnected")


def _safe_cause(exc: BaseException) -> BaseException | None:
    """The exception to chain, unless its text is a server reply (which may quote the address)."""
    return None if isinstance(exc, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused) else exc


def _refusal(phase: str, code: int, reply: bytes | str) -> ChannelError:
    """4xx: try later; 5xx: refused for good; anything else is a protocol surprise (transient)."""
    raw = reply.encode("utf-8", "replace") if isinstance(reply, str) else reply
    match = _ENHANCED_STATUS.match(raw)
    detail = f" {match.group().decode()}" if match else ""
    reason = f"{phase} refused ({code}{detail})"
    if 500 <= code < 600:
        return PermanentChannelError(reason, code=str(code))
    return TransientChannelError(reason, code=str(code))


def _quit(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        connection.close()
