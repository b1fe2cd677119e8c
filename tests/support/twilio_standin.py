"""A local stand-in for Twilio's Messages API, checked against Twilio's own OpenAPI description.

It owns `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` on 127.0.0.1: every request is
validated against `tests/fixtures/twilio/api_v2010_messages.openapi.json` (form fields, names, formats,
Basic auth) and answered like Twilio would, with a 201 Message JSON of the spec's shape or a
Twilio error JSON. Tests script faults per request (`ok`, `429`, `500`, `400:21211`,
`problem:429:20429`, `delay:0.2`, `hang`, `drop`) and read back `.requests`, `.violations`,
`.messages` and `.stats()`. It also runs as a process for benchmarks:
`python -m tests.support.twilio_standin --port 8099 --latency 0.15`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import json
import re
import signal
import socket
import socketserver
import sys
import threading
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import jsonschema

SPEC_FILE = "api_v2010_messages.openapi.json"
MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")
MESSAGE_SCHEMA = "api.v2010.account.message"
E164 = re.compile(r"^\+[1-9]\d{1,14}$")
CHANNEL_ADDRESS = re.compile(r"^(whatsapp|messenger|rcs|fbm|gbm|apple):\S+$")
SHORT_CODE = re.compile(r"^\d{3,8}$")
ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 +\-_&.]{1,11}$")
ERROR_MESSAGES = {
    20001: "Invalid parameter",
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
    21211: "Invalid 'To' Phone Number",
    21602: "Message body is required.",
    21603: "A 'From' or 'MessagingServiceSid' parameter is required to send a message.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21617: "The concatenated message body exceeds the 1600 character limit.",
}
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)

Form = dict[str, list[str]]
ScriptFn = Callable[[int, dict[str, str]], str]


# --- the contract: where it lives, and validators built from it ---------------------------


def spec_path() -> Path:
    """`tests/fixtures/twilio/...` in the checkout: the tests need nothing beside it."""
    return Path(__file__).resolve().parents[1] / "fixtures" / "twilio" / SPEC_FILE


@cache
def load_spec() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(spec_path().read_text(encoding="utf-8"))
    return spec


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: `nullable` becomes a null type, ignoreFormat honoured."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: to_json_schema(value) for key, value in node.items() if key != "nullable"}
    if isinstance(node.get("x-twilio"), dict) and node["x-twilio"].get("ignoreFormat"):
        out.pop("format", None)
    if node.get("nullable"):
        if "$ref" in out:
            return {"anyOf": [{"$ref": out.pop("$ref")}, {"type": "null"}], **out}
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if any(c.isspace() or ord(c) < 32 for c in value):
        return False
    parts = urlsplit(value)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme or ""):
        return False
    if parts.scheme.lower() in ("http", "https"):
        # Twilio: "URL must contain a valid hostname and underscores are not allowed".
        host = parts.hostname or ""
        return bool(host) and "_" not in host
    return bool(parts.netloc or parts.path)


def _is_phone_number(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return any(p.match(value) for p in (E164, CHANNEL_ADDRESS, SHORT_CODE, ALPHANUMERIC_SENDER))


def _is_rfc2822(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return False
    return True


def _is_iso_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def format_checker() -> jsonschema.FormatChecker:
    """Checks for the formats the spec uses (jsonschema knows none of Twilio's own)."""
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("phone-number")(_is_phone_number)
    checker.checks("uri")(_is_uri)
    checker.checks("date-time-rfc-2822")(_is_rfc2822)
    checker.checks("date-time")(_is_iso_datetime)
    checker.checks("currency")(lambda v: not isinstance(v, str) or bool(re.fullmatch("[A-Z]{3}", v)))
    checker.checks("uri-map")(lambda v: not isinstance(v, dict) or all(isinstance(x, str) for x in v.values()))
    return checker


def _validator_for(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    components = to_json_schema(load_spec()["components"])
    root = {**to_json_schema(schema), "components": components}
    return jsonschema.Draft202012Validator(root, format_checker=format_checker())


@cache
def message_validator() -> jsonschema.Draft202012Validator:
    """Validates a Message JSON (what Twilio answers) against the spec's Message schema."""
    return _validator_for({"$ref": f"#/components/schemas/{MESSAGE_SCHEMA}"})


def message_properties() -> set[str]:
    return set(load_spec()["components"]["schemas"][MESSAGE_SCHEMA]["properties"])


def _create_operation() -> dict[str, Any]:
    operation: dict[str, Any] = load_spec()["paths"]["/2010-04-01/Accounts/{AccountSid}/Messages.json"]["post"]
    return operation


def _request_schema() -> dict[str, Any]:
    content = _create_operation()["requestBody"]["content"]
    schema: dict[str, Any] = content["application/x-www-form-urlencoded"]["schema"]
    return schema


@cache
def request_validator() -> jsonschema.Draft202012Validator:
    """Validates the typed form of a create-message request; unknown fields are refused."""
    return _validator_for({**_request_schema(), "additionalProperties": False})


@cache
def _account_sid_pattern() -> re.Pattern[str]:
    (param,) = [p for p in _create_operation()["parameters"] if p["name"] == "AccountSid"]
    return re.compile(param["schema"]["pattern"])


def _field_kind(prop: Mapping[str, Any]) -> str:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return str(load_spec()["components"]["schemas"][name].get("type", "string"))
    return str(prop.get("type", "string"))


def _coerce(raw: str, kind: str) -> object:
    if kind == "integer" and re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            return raw
    if kind == "boolean":
        return {"true": True, "false": False}.get(raw.lower(), raw)
    return raw


# --- request checking ---------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    """One way a request breaks the contract, with the Twilio error it is answered with."""

    status: int
    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code}: {self.text}"


def check_form(form: Form) -> list[Violation]:
    """Every contract violation of a create-message form (empty list: Twilio would accept it)."""
    props: dict[str, Any] = _request_schema()["properties"]
    typed: dict[str, object] = {}
    found: list[Violation] = []
    for key, values in form.items():
        kind = _field_kind(props[key]) if key in props else "string"
        if kind == "array":
            typed[key] = values
            continue
        if len(values) > 1:
            found.append(Violation(400, 20001, f"{key}: given {len(values)} times"))
        typed[key] = _coerce(values[0], kind)
    for error in request_validator().iter_errors(typed):
        where = "/".join(str(p) for p in error.absolute_path) or "(form)"
        code = 21604 if error.validator == "required" and "To" in error.message else 20001
        code = 21211 if where == "To" else code
        found.append(Violation(400, code, f"{where}: {error.message}"))
    found.extend(_twilio_rules(typed))
    return found


def _twilio_rules(typed: Mapping[str, object]) -> list[Violation]:
    """Rules of the Messages API that the OpenAPI document states only in prose."""
    found: list[Violation] = []
    to = typed.get("To")
    if isinstance(to, str) and not (E164.match(to) or CHANNEL_ADDRESS.match(to)):
        found.append(Violation(400, 21211, "To: not E.164 nor a channel address"))
    if "From" not in typed and "MessagingServiceSid" not in typed:
        found.append(Violation(400, 21603, "From or MessagingServiceSid is required"))
    if not ({"Body", "MediaUrl", "ContentSid"} & typed.keys()):
        found.append(Violation(400, 21602, "Body, MediaUrl or ContentSid is required"))
    body = typed.get("Body")
    if isinstance(body, str) and len(body) > 1600:
        found.append(Violation(400, 21617, f"Body: {len(body)} characters, limit 1600"))
    validity = typed.get("ValidityPeriod")
    if isinstance(validity, int) and not 1 <= validity <= 36000:
        found.append(Violation(400, 20001, "ValidityPeriod: must be 1..36000"))
    return found


def check_auth(header: str | None, account_sid: str, auth_token: str | None) -> list[Violation]:
    if not header or not header.startswith("Basic "):
        return [Violation(401, 20003, "Basic auth missing")]
    try:
        user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return [Violation(401, 20003, "Basic auth malformed")]
    if user != account_sid or not password:
        return [Violation(401, 20003, "Basic auth user is not the path's AccountSid")]
    if auth_token is not None and password != auth_token:
        return [Violation(401, 20003, "wrong auth token")]
    return []


# --- faults -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One scripted behaviour; `parse_fault` reads the text form used in scripts."""

    kind: Literal["ok", "error", "problem", "delay", "hang", "drop"]
    status: int = 201
    code: int = 0
    seconds: float = 0.0


def parse_fault(text: str) -> Fault:
    """`ok`, `drop`, `hang`, `delay:<s>`, `<status>[:<code>]`, `problem:<status>:<code>`."""
    text = text.strip()
    if text in ("ok", "drop", "hang"):
        return Fault(text)  # type: ignore[arg-type]  # checked by the `in` above
    if text.startswith("delay:"):
        return Fault("delay", seconds=float(text.removeprefix("delay:")))
    if match := re.fullmatch(r"problem:(\d{3}):(\d+)", text):
        return Fault("problem", status=int(match[1]), code=int(match[2]))
    if match := re.fullmatch(r"([45]\d\d)(?::(\d+))?", text):
        status = int(match[1])
        return Fault("error", status=status, code=int(match[2] or 20000 + status))
    raise ValueError(f"unknown stand-in fault {text!r}")


def _segments(body: str) -> int:
    if set(body) <= GSM7:
        length, single, multi = len(body), 160, 153
    else:
        length, single, multi = len(body.encode("utf-16-le")) // 2, 70, 67
    return 1 if length <= single else -(-length // multi)


def error_json(status: int, code: int) -> dict[str, Any]:
    message = ERROR_MESSAGES.get(code, HTTPStatus(status).phrase)
    more_info = f"https://www.twilio.com/docs/errors/{code}"
    return {"code": code, "message": message, "more_info": more_info, "status": status}


def message_json(account_sid: str, form: Mapping[str, str]) -> dict[str, Any]:
    """A Message resource as Twilio returns it for a just-created outbound SMS."""
    sid = "SM" + uuid.uuid4().hex
    now = format_datetime(datetime.now(UTC))
    uri = f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}"
    body = form.get("Body", "")
    return {
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "body": body,
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": form.get("From"),
        "messaging_service_sid": form.get("MessagingServiceSid"),
        "num_media": "0",
        "num_segments": str(_segments(body)),
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": form.get("To"),
        "uri": f"{uri}.json",
    }


# --- the server ---------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    standin: TwilioStandIn

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # skip HTTPServer's getfqdn() lookup
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # clients hanging up are expected
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without NODELAY, Nagle + delayed ACK add 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.standin._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.standin._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: benchmarks and tests read stats, not access logs."""

    def do_GET(self) -> None:
        self._send_json(404, error_json(404, 20404))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace")
        self.server.standin._handle(self, raw)

    def _send_json(self, status: int, payload: Mapping[str, Any], content_type: str = "application/json") -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class TwilioStandIn:
    """Serves the Messages API on 127.0.0.1 in a background thread until `close()`.

    `.requests` holds every POSTed form (field -> first value), `.violations` every contract
    violation, `.messages` every Message JSON answered with 201. Script faults with `.script()`;
    when the script is used up, requests are answered `ok`. `latency_seconds` delays every
    answer; `hang` waits `hang_seconds` (keep it above the client's timeout) then hangs up.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_seconds: float = 0.0,
        hang_seconds: float = 1.0,
        auth_token: str | None = None,
        validate: bool = True,
    ) -> None:
        self.latency_seconds = latency_seconds
        self.hang_seconds = hang_seconds
        self.auth_token = auth_token
        self.validate = validate
        self.requests: list[dict[str, str]] = []
        self.violations: list[Violation] = []
        self.messages: list[dict[str, Any]] = []
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._script: deque[Fault] = deque()
        self._script_fn: ScriptFn | None = None
        self._closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._accepted = 0
        if validate:
            request_validator()  # load the spec now: a missing file fails here, not mid-test
        self._server = _Server((host, port), _Handler)
        self._server.standin = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="twilio-standin",
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, faults: Iterable[str] | ScriptFn) -> None:
        """Queue faults for the next requests, or decide each one with fn(index, form)."""
        with self._lock:
            if callable(faults):
                self._script_fn, self._script = faults, deque()
            else:
                self._script_fn = None
                self._script = deque(parse_fault(text) for text in faults)

    def stats(self) -> dict[str, int]:
        """Counts by outcome: requests, ok, error, problem, drop, hang, invalid."""
        with self._lock:
            return dict(self._counts)

    def close(self) -> None:
        self._closing.set()
        self._server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> TwilioStandIn:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted so far (a client keeping its connections alive opens few)."""
        with self._lock:
            return self._accepted

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._accepted += 1
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _handle(self, handler: _Handler, raw: str) -> None:
        path = urlsplit(handler.path).path
        form: Form = parse_qs(raw, keep_blank_values=True)
        flat = {key: values[0] for key, values in form.items()}
        with self._lock:
            index = len(self.requests)
            self.requests.append(flat)
            self._counts["requests"] += 1
        match = MESSAGES_PATH.match(path)
        if match is None:
            self._refuse(handler, [Violation(404, 20404, f"POST to unknown path {path}")])
            return
        account_sid = match["sid"]
        if self.validate:
            problems = self._check(handler, account_sid, form)
            if problems:
                self._refuse(handler, problems)
                return
        fault = self._next_fault(index, flat)
        self._closing.wait(self.latency_seconds)
        self._answer(handler, fault, account_sid, flat)

    def _check(self, handler: _Handler, account_sid: str, form: Form) -> list[Violation]:
        found = check_auth(handler.headers.get("Authorization"), account_sid, self.auth_token)
        if not _account_sid_pattern().match(account_sid):
            found.append(Violation(404, 20404, "AccountSid in the path is malformed"))
        content_type = handler.headers.get_content_type()
        if content_type != "application/x-www-form-urlencoded":
            found.append(Violation(400, 20001, f"Content-Type {content_type}"))
        return found + check_form(form)

    def _refuse(self, handler: _Handler, problems: list[Violation]) -> None:
        with self._lock:
            self.violations.extend(problems)
            self._counts["invalid"] += 1
        handler._send_json(problems[0].status, error_json(problems[0].status, problems[0].code))

    def _next_fault(self, index: int, form: dict[str, str]) -> Fault:
        with self._lock:
            if self._script_fn is not None:
                fn = self._script_fn
            elif self._script:
                return self._script.popleft()
            else:
                return Fault("ok")
        return parse_fault(fn(index, form))

    def _answer(self, handler: _Handler, fault: Fault, account_sid: str, form: dict[str, str]) -> None:
        with self._lock:
            self._counts[fault.kind] += 1
        if fault.kind in ("hang", "drop"):
            if fault.kind == "hang":
                self._closing.wait(self.hang_seconds)
            handler.close_connection = True  # hang up without a single byte of answer
            return
        if fault.kind == "error":
            handler._send_json(fault.status, error_json(fault.status, fault.code))
            return
        if fault.kind == "problem":
            problem = {
                "type": f"https://www.twilio.com/docs/errors/{fault.code}",
                "title": ERROR_MESSAGES.get(fault.code, HTTPStatus(fault.status).phrase),
                "status": fault.status,
                "code": fault.code,
            }
            handler._send_json(fault.status, problem, "application/problem+json")
            return
        self._closing.wait(fault.seconds)
        message = message_json(account_sid, form)
        with self._lock:
            self.messages.append(message)
        handler._send_json(201, message)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Twilio Messages API stand-in.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--auth-token", default=None, help="also check the Basic auth password")
    parser.add_argument("--no-validate", action="store_true", help="skip contract checks")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    standin = TwilioStandIn(
        host=args.host,
        port=args.port,
        latency_seconds=args.latency,
        auth_token=args.auth_token,
        validate=not args.no_validate,
    )
    print(f"twilio stand-in listening on http://{args.host}:{standin.port}", flush=True)
    stop.wait()
    standin.close()
    stats = standin.stats()
    print(f"requests={stats.get('requests', 0)} ok={stats.get('ok', 0)} invalid={stats.get('invalid', 0)}", flush=True)


if __name__ == "__main__":
    main()
