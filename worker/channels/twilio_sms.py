"""The Twilio SMS channel: one Messages API call per message through the official `twilio` library.

It owns the translation from an OutgoingMessage to `client.messages.create(...)`, the optional
base-URL rewrite that points the library at a local stand-in (`TWILIO_API_BASE_URL`), each
call's timeout (its own, cut to the send batch's deadline: worker.channels.timeouts), and the
classification of every failure into the error tree: Transient when Twilio certainly did not take
the message (429, 5xx, connection never made), Permanent when it refused it for good (other 4xx;
21610 is an opt-out), Ambiguous when the request may have been processed (read timeout, reset).
A chunk's calls go out at once on the channel's call pool (worker.channels.calls). Each call
borrows a Client (with its own HTTP session: a requests Session is not thread-safe) from the
channel's idle ones and gives it back, so a process keeps one kept-alive connection per call in
flight, reused from batch to batch, instead of opening a session per thread.
Nothing here logs or raises text containing a phone number or a message body.
"""

from __future__ import annotations

import logging
import ssl
import threading
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict
from twilio.base.exceptions import (
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from worker.channels.base import OutgoingMessage, SendResult
from worker.channels.calls import CallPool
from worker.channels.timeouts import call_timeout
from worker.clock import utc
from worker.errors import (
    AmbiguousChannelError,
    ChannelError,
    PermanentChannelError,
    TransientChannelError,
)
from worker.optouts import is_provider_opt_out

# Not the message's fault, and Twilio did not act on the request: worth another try later.
# 401 is here so that a wrong auth token does not fail every queued message for good.
TRANSIENT_STATUSES = frozenset({401, 408, 429})
# Provider calls one worker process makes at once (so its connections to Twilio): at 150 ms a
# call, about 640 messages a second a process. More threads waiting on Twilio cost more CPU a
# message (each answer wakes one to fight for the GIL) than they add.
MAX_CALLS_IN_FLIGHT = 96


class _RebasedHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio is untyped
    """TwilioHttpClient that sends every request to `base_url` instead of *.twilio.com, through
    its requests Session's own adapter (the same connection pool, TLS verification and retries).

    It prepares each request as TwilioHttpClient does, minus the Session-level merges a Twilio
    call never uses and that cost a third of the call's CPU: no cookies (Twilio's API sets
    none), no proxy, netrc or CA bundle from os.environ (never wanted here), no redirects
    (the library asks for none). The library's request and response lines (Basic auth left
    out, but ten lines a call) are written at DEBUG only: caredrip logs each outcome itself.
    """

    def __init__(self, *, base_url: str | None, timeout: float) -> None:
        super().__init__(pool_connections=True, timeout=timeout)
        self.session.trust_env = False  # no proxy, netrc or CA bundle from os.environ
        self._base = urlsplit(base_url.rstrip("/")) if base_url else None

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        # Never longer than the send batch's deadline leaves (worker.channels.timeouts).
        timeout = call_timeout(timeout or self.timeout)
        if self._base is not None:
            parts = urlsplit(url)
            path = self._base.path + parts.path
            url = urlunsplit((self._base.scheme, self._base.netloc, path, parts.query, ""))
        merged = CaseInsensitiveDict(self.session.headers)
        merged.update(headers or {})
        as_json = merged.get("Content-Type") in ("application/json", "application/scim+json")
        request: dict[str, Any] = {
            "method": method.upper(),
            "url": url,
            "params": params,
            "headers": merged,
            "auth": auth,
        }
        request["json" if as_json else "data"] = data
        debug = self.logger.isEnabledFor(logging.DEBUG)
        if debug:
            self.log_request({**request, "headers": headers})
        prepared = requests.PreparedRequest()
        prepared.prepare(**request, hooks=self.request_hooks)
        response = self.session.get_adapter(url).send(prepared, timeout=timeout, verify=self.session.verify)
        if debug:
            self.log_response(response.status_code, response)
        return Response(int(response.status_code), response.text, response.headers)

    def close(self) -> None:
        self.session.close()


class TwilioSmsChannel:
    """Sends SMS through Twilio's Messages API; safe to call from any number of threads.

    A batch marks `batch_size` messages "sending" together (one Redis round trip) and `send_many`
    calls Twilio for all of them at once; at most `parallelism` messages of a batch are with
    Twilio at once (one full chunk, or up to 16 chunks of one under a low rate limit).
    """

    name = "sms"
    batch_size = 16
    parallelism = 16

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        messaging_service_sid: str | None = None,
        from_number: str | None = None,
        api_base_url: str | None = None,
        validity_period_seconds: int = 14400,
        timeout_seconds: float = 10,
    ) -> None:
        if not account_sid or not auth_token:
            raise ValueError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are required")
        if (messaging_service_sid is None) == (from_number is None):
            raise ValueError("exactly one of TWILIO_MESSAGING_SERVICE_SID and TWILIO_FROM_NUMBER is required")
        if not 1 <= validity_period_seconds <= 36000:
            raise ValueError("validity_period_seconds must be between 1 and 36000 (Twilio's range)")
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        if api_base_url is not None and urlsplit(api_base_url).scheme not in ("http", "https"):
            raise ValueError("TWILIO_API_BASE_URL must be an http(s) URL")
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._sender: dict[str, str] = (
            {"messaging_service_sid": messaging_service_sid}
            if messaging_service_sid is not None
            else {"from_": from_number or ""}
        )
        self._api_base_url = api_base_url
        self._validity_period = validity_period_seconds
        self._timeout = timeout_seconds
        self._calls = CallPool(MAX_CALLS_IN_FLIGHT, "caredrip-twilio")
        self._idle: list[tuple[Client, _RebasedHttpClient]] = []  # the last given back is lent first
        self._lent: set[_RebasedHttpClient] = set()
        self._clients_lock = threading.Lock()

    def send(self, message: OutgoingMessage, *, now: datetime) -> SendResult:
        extra: dict[str, Any] = {}
        if message.status_callback_url:
            extra["status_callback"] = message.status_callback_url
        client, http_client = self._borrow()
        try:
            created = client.messages.create(
                to=message.to,
                body=message.body,
                validity_period=self._validity_period,
                **self._sender,
                **extra,
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            raise classify(exc) from None  # Twilio's message text may quote the phone number
        except Exception as exc:
            raise classify(exc) from exc
        finally:
            self._give_back(client, http_client)
        if not created.sid:
            raise AmbiguousChannelError("Twilio answered without a message SID", code="no-sid")
        return SendResult(provider_id=created.sid, sent_at=utc(now))

    def send_many(self, messages: list[OutgoingMessage], *, now: datetime) -> list[SendResult | Exception]:
        """All at once on the call pool; one result or ChannelError per message, in order."""
        return self._calls.send_all(lambda message: self.send(message, now=now), messages)

    def close(self) -> None:
        """Close every idle HTTP session (one lent out closes when given back); let the call
        pool's threads go. A later send opens fresh ones."""
        self._calls.close()
        with self._clients_lock:
            idle, self._idle = self._idle, []
            self._lent.clear()  # given back after this: closed, not kept
        for _client, http_client in idle:
            http_client.close()

    def _borrow(self) -> tuple[Client, _RebasedHttpClient]:
        with self._clients_lock:
            if self._idle:
                client, http_client = self._idle.pop()
                self._lent.add(http_client)
                return client, http_client
        http_client = _RebasedHttpClient(base_url=self._api_base_url, timeout=self._timeout)
        client = Client(
            self._account_sid,
            self._auth_token,
            http_client=http_client,
            # A non-empty mapping, so that the library never falls back to os.environ
            # (TWILIO_EDGE, TWILIO_REGION would silently change the host).
            environment={"CAREDRIP": "1"},
        )
        with self._clients_lock:
            self._lent.add(http_client)
        return client, http_client

    def _give_back(self, client: Client, http_client: _RebasedHttpClient) -> None:
        with self._clients_lock:
            keep = http_client in self._lent  # False: `close` ran while it was lent
            self._lent.discard(http_client)
            if keep:
                self._idle.append((client, http_client))
        if not keep:
            http_client.close()


def classify(exc: BaseException) -> ChannelError:
    """Map a failure of `messages.create` to Transient, Permanent or Ambiguous."""
    if isinstance(exc, ChannelError):
        return exc
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        return _classify_status(int(exc.status), exc.code)
    if isinstance(exc, requests.exceptions.RequestException) and _never_connected(exc):
        return TransientChannelError("could not connect to Twilio", code="connect")
    if isinstance(exc, requests.exceptions.Timeout):
        return AmbiguousChannelError("Twilio did not answer in time", code="timeout")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return AmbiguousChannelError("connection to Twilio lost mid-request", code="connection")
    if isinstance(exc, TwilioException):
        return AmbiguousChannelError("Twilio client error", code=type(exc).__name__)
    return AmbiguousChannelError(f"unexpected {type(exc).__name__}", code="unexpected")


def _classify_status(status: int, code: int | None) -> ChannelError:
    code_text = str(code if code is not None else status)
    if status in TRANSIENT_STATUSES or status >= 500:
        return TransientChannelError(f"Twilio answered HTTP {status}", code=code_text)
    return PermanentChannelError(
        f"Twilio refused the message (HTTP {status})",
        code=code_text,
        opt_out=is_provider_opt_out(code),
    )


def _never_connected(exc: BaseException) -> bool:
    """True when the failure happened before a byte of the request could have been sent.

    `ConnectTimeout`, urllib3's `NewConnectionError` (refused, unreachable, DNS) and a rejected
    TLS certificate only arise while opening the connection. Other TLS errors may come mid-stream,
    after the request went out, so they stay ambiguous.
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(
            current,
            urllib3.exceptions.NewConnectionError
            | urllib3.exceptions.ConnectTimeoutError
            | ConnectionRefusedError
            | ssl.SSLCertVerificationError,
        ):
            return True
        if isinstance(current, urllib3.exceptions.MaxRetryError) and current.reason is not None:
            todo.append(current.reason)
        todo.extend(a for a in current.args if isinstance(a, BaseException))
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                todo.append(linked)
    return False
