"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests, with scripted faults per transaction.

It owns the test side of email: it collects every accepted message, parsed with
`email.policy.default`, with its envelope, and can refuse or break transactions on purpose:
`ok`, `451` / `550` (reply at RCPT), `421@data` / `451@data` / `554@data` (reply to the
content), `disconnect@mail`, `disconnect@rcpt`, `disconnect@data` (hang up without a reply;
`@data` after the whole content was received), `hang[@phase]` (say nothing for `hang_seconds`,
default phase data: longer than the client's timeout). Faults are taken one per MAIL FROM; when the
script is used up, transactions succeed.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import socket
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

Phase = Literal["mail", "rcpt", "data"]


@dataclass(frozen=True)
class SmtpFault:
    """What to do in one transaction: answer `reply` (or hang up) when `phase` is reached."""

    action: Literal["ok", "reply", "disconnect", "hang"]
    phase: Phase = "rcpt"
    reply: str = ""


REPLIES = {
    "421": "421 4.3.2 Service not available, closing channel",
    "450": "450 4.2.1 Mailbox busy, try again later",
    "451": "451 4.3.0 Temporary local problem, try again later",
    "452": "452 4.3.1 Insufficient system storage",
    "550": "550 5.1.1 Recipient address rejected: user unknown",
    "552": "552 5.3.4 Message too big",
    "554": "554 5.7.1 Message refused",
}


def parse_smtp_fault(text: str) -> SmtpFault:
    """`ok`, `<code>[@phase]` (phase defaults to rcpt), `disconnect|hang[@phase]` (default data)."""
    action, _, phase = text.strip().partition("@")
    if phase and phase not in ("mail", "rcpt", "data"):
        raise ValueError(f"unknown SMTP phase in {text!r}")
    if action == "ok":
        return SmtpFault("ok")
    if action in ("disconnect", "hang"):
        return SmtpFault(action, phase=phase or "data")  # type: ignore[arg-type]
    if action in REPLIES:
        return SmtpFault("reply", phase=phase or "rcpt", reply=REPLIES[action])  # type: ignore[arg-type]
    raise ValueError(f"unknown SMTP fault {text!r}")


@dataclass(frozen=True)
class ReceivedMail:
    """One accepted message: the envelope and the parsed content."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


class _Handler:
    def __init__(self, owner: SmtpTestServer) -> None:
        self.owner = owner

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        """Counts sessions (a reused connection says EHLO once) and keeps the name given."""
        session.host_name = hostname
        self.owner._count("ehlo")
        self.owner.ehlo_names.append(hostname)
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.owner.auth_required and not session.authenticated:
            return "530 5.7.0 Authentication required"
        fault = self.owner._next_fault()
        session.caredrip_fault = fault  # type: ignore[attr-defined]
        outcome = await self._fault_at("mail", server, session)
        if outcome is not None:
            return outcome
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        outcome = await self._fault_at("rcpt", server, session)
        if outcome is not None:
            return outcome
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        outcome = await self._fault_at("data", server, session)
        if outcome is not None:
            return outcome
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        mail = ReceivedMail(str(envelope.mail_from), list(envelope.rcpt_tos), parsed, raw)
        self.owner._received(mail)
        return "250 2.0.0 OK queued"

    async def _fault_at(self, phase: Phase, server: SMTP, session: Session) -> str | None:
        fault: SmtpFault = getattr(session, "caredrip_fault", SmtpFault("ok"))
        if fault.action == "ok" or fault.phase != phase:
            return None
        if fault.action == "hang":
            self.owner._count("hang")
            await asyncio.sleep(self.owner.hang_seconds)  # the client gives up first
            return "451 4.4.2 too late"
        if fault.action == "disconnect":
            self.owner._count("disconnect")
            assert isinstance(server.transport, asyncio.Transport)
            server.transport.abort()  # no reply at all: the client sees the connection drop
            await asyncio.sleep(5)  # connection_lost() cancels this session's task at once
            return "421 4.3.0 gone"
        self.owner._count(fault.reply[:3])
        return fault.reply


def _authenticator(user: str, password: str) -> Any:
    def check(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
        return AuthResult(success=ok, handled=False)

    return check


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now (also good for 'refused' tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpTestServer:
    """aiosmtpd on 127.0.0.1 and a free port; `.messages` collects what it accepted.

    With `auth=(user, password)` it offers AUTH PLAIN/LOGIN without TLS (tests only) and
    refuses mail from sessions that did not log in.
    """

    def __init__(self, *, auth: tuple[str, str] | None = None, hang_seconds: float = 1.0) -> None:
        self.hang_seconds = hang_seconds
        self.messages: list[ReceivedMail] = []
        self.counts: dict[str, int] = {}
        self.ehlo_names: list[str] = []
        self._lock = threading.Lock()
        self._script: deque[SmtpFault] = deque()
        kwargs: dict[str, Any] = {}
        if auth is not None:
            # AUTH offered without TLS (tests only); "required" is enforced at MAIL FROM, since
            # aiosmtpd's own auth_required without TLS raises a warning (an error under pytest).
            kwargs = {"authenticator": _authenticator(*auth), "auth_require_tls": False}
        self.auth_required = auth is not None
        for attempt in range(5):  # a free port can be taken between probe and bind
            self.port = free_port()
            self._controller = Controller(
                _Handler(self), hostname="127.0.0.1", port=self.port, ready_timeout=5, **kwargs
            )
            try:
                self._controller.start()
                break
            except OSError:
                if attempt == 4:
                    raise

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def script(self, faults: Iterable[str]) -> None:
        """Faults for the next transactions, one per MAIL FROM (see `parse_smtp_fault`)."""
        with self._lock:
            self._script = deque(parse_smtp_fault(text) for text in faults)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._controller.stop()

    def __enter__(self) -> SmtpTestServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _next_fault(self) -> SmtpFault:
        with self._lock:
            self.counts["transactions"] = self.counts.get("transactions", 0) + 1
            return self._script.popleft() if self._script else SmtpFault("ok")

    def _count(self, key: str) -> None:
        with self._lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def _received(self, mail: ReceivedMail) -> None:
        with self._lock:
            self.messages.append(mail)
