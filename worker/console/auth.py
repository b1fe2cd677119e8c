"""Console sign-in: an operator token or a clinic key exchanged for a session, and CSRF.

The session cookie holds a random id only (HttpOnly, SameSite=Strict, path /console, Secure in
production, 8 h); Redis keeps the session under the id's sha256 with the same TTL
(`worker.store.console`). Each request checks that the token or key it was opened with still
works, so revoking a clinic key (or the clinic) ends its sessions at once. Every POST form
carries the session's CSRF token (`check_csrf`); the sign-in form, which has no session yet,
carries a double-submit token (a cookie of its own and the same value in the form).
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import parse_qs

from fastapi import Depends, Request
from fastapi.responses import Response

from worker.clinics import authenticate
from worker.console.deps import Console, console
from worker.console.operators import TOKEN_PREFIX, authenticate_operator
from worker.console.views import PageError, SignInNeeded
from worker.tokens import hash_key, key_id

COOKIE = "cd_console"
SIGNIN_COOKIE = "cd_console_signin"
PATH = "/console"
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
MAX_FORM_BYTES = 16_384

Kind = Literal["operator", "clinic"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a console request acts for: an operator or a clinic, its name, the session's CSRF token."""

    kind: Kind
    id: str
    name: str
    csrf: str
    sid_hash: str
    cred: str = ""  # sha256 of the token or key the session was opened with

    @property
    def is_operator(self) -> bool:
        return self.kind == "operator"

    @property
    def actor(self) -> str:
        """Who an audit entry names for this session's actions: `operator:<id>`, or the clinic and
        the id of the key it signed in with, as the API names a key's calls (`clinic:<id> key:<k_…>`)."""
        return f"operator:{self.id}" if self.is_operator else f"clinic:{self.id} key:{key_id(self.cred)}"

    @property
    def clinic_id(self) -> str | None:
        """The clinic whose data this session may see; None for an operator (any clinic)."""
        return None if self.is_operator else self.id


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _well_formed(value: str | None) -> bool:
    return value is not None and 20 <= len(value) <= 64 and set(value) <= _ID_CHARS


def sign_in(c: Console, secret: str, now_s: int) -> tuple[str, Principal] | None:
    """Exchange an operator token or a clinic key for a new session: (cookie value, who); None
    when neither works."""
    secret = secret.strip()
    if secret.startswith(TOKEN_PREFIX):
        kind: Kind = "operator"
        who = authenticate_operator(c.store(), secret)
    else:
        kind = "clinic"
        who = authenticate(c.clinics(), secret)
    if who is None:
        return None
    sid, csrf = new_token(), new_token()
    fields = {"kind": kind, "who": who, "cred": hash_key(secret), "csrf": csrf, "created": str(now_s)}
    c.store().create_session(hash_key(sid), fields, c.own.session_ttl_s)
    return sid, Principal(kind, who, _name(c, kind, who), csrf, hash_key(sid), hash_key(secret))


def _name(c: Console, kind: Kind, who: str) -> str:
    row = c.store().operator(who) if kind == "operator" else c.clinics().get(who)
    return row.get("name", who)


def _credential_works(c: Console, kind: Kind, who: str, cred: str) -> bool:
    if kind == "operator":
        return c.store().operator_by_token_hash(cred) == who
    return c.clinics().by_key_hash(cred) == who


def current(request: Request, c: Console) -> Principal | None:
    """The session the request's cookie names; None without a cookie. A cookie naming no working
    session (forged, expired, signed out, its key revoked) answers 401 and clears it."""
    sid = request.cookies.get(COOKIE)
    if sid is None:
        return None
    expired = PageError(401, "Your session is not valid", "It expired, was signed out, or its key was revoked. "
                        "Sign in again.", clear_session=True)  # fmt: skip
    if not _well_formed(sid):
        raise expired
    sid_hash = hash_key(sid)
    row = c.store().session(sid_hash)
    kind: Kind
    if row.get("kind") == "operator":
        kind = "operator"
    elif row.get("kind") == "clinic":
        kind = "clinic"
    else:
        raise expired
    if not _credential_works(c, kind, row["who"], row.get("cred", "")):
        raise expired
    return Principal(kind, row["who"], _name(c, kind, row["who"]), row["csrf"], sid_hash, row.get("cred", ""))


def signed_in(request: Request, c: Annotated[Console, Depends(console)]) -> Principal:
    """The request's principal; a browser with no session at all goes to the sign-in page."""
    who = current(request, c)
    if who is None:
        raise SignInNeeded
    return who


def operator_only(who: Annotated[Principal, Depends(signed_in)]) -> Principal:
    if not who.is_operator:
        raise PageError(403, "Operators only", "This page is for caredrip operators. Clinics see their patients.")
    return who


Who = Annotated[Principal, Depends(signed_in)]
Operator = Annotated[Principal, Depends(operator_only)]


async def form_fields(request: Request) -> dict[str, list[str]]:
    """The POSTed form (application/x-www-form-urlencoded); a clear 4xx page otherwise."""
    body = await request.body()
    if not body:
        return {}  # an empty form: its CSRF check then refuses it
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise PageError(415, "Not a form", "Send the page's own form (application/x-www-form-urlencoded).")
    if len(body) > MAX_FORM_BYTES:
        raise PageError(413, "Form too large", f"A console form is at most {MAX_FORM_BYTES} bytes.")
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise PageError(400, "Unreadable form", "The form could not be read; reload the page and try again.") from None


Form = Annotated[dict[str, list[str]], Depends(form_fields)]


def field(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name) or [""]
    return values[0]


def check_csrf(who: Principal, form: dict[str, list[str]]) -> None:
    """403 unless the form carries this session's CSRF token."""
    sent = field(form, "csrf")
    if not sent or not hmac.compare_digest(sent.encode("utf-8", "replace"), who.csrf.encode()):
        raise PageError(403, "Form expired or forged", "The form did not carry this session's security token. "
                        "Go back, reload the page and submit it again.")  # fmt: skip


def check_signin_csrf(request: Request, form: dict[str, list[str]]) -> None:
    """403 unless the sign-in form's token matches its cookie (double submit)."""
    sent, kept = field(form, "csrf"), request.cookies.get(SIGNIN_COOKIE, "")
    if not _well_formed(kept) or not hmac.compare_digest(sent.encode("utf-8", "replace"), kept.encode()):
        raise PageError(403, "Sign-in form expired", "Reload the sign-in page and try again.")


def set_session_cookie(response: Response, sid: str, c: Console) -> None:
    response.set_cookie(COOKIE, sid, max_age=c.own.session_ttl_s, path=PATH, httponly=True, samesite="strict",
                        secure=c.secure_cookie())  # fmt: skip
    response.delete_cookie(SIGNIN_COOKIE, path=PATH)


def set_signin_cookie(response: Response, token: str, c: Console) -> None:
    response.set_cookie(SIGNIN_COOKIE, token, max_age=3600, path=PATH, httponly=True, samesite="strict",
                        secure=c.secure_cookie())  # fmt: skip


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict")


def sign_out(c: Console, who: Principal) -> None:
    c.store().drop_session(who.sid_hash)


def now_s() -> int:
    """Session times are real time (a scaled clock would end a session in a second)."""
    return int(time.time())
