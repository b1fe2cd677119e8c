"""Sign-in, sign-out and the console's front door (`/console` sends each kind to its start page)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from worker.console.auth import (
    Form,
    Who,
    check_csrf,
    check_signin_csrf,
    clear_cookie,
    current,
    field,
    new_token,
    now_s,
    set_session_cookie,
    set_signin_cookie,
    sign_in,
    sign_out,
)
from worker.console.deps import Console, console
from worker.console.views import PageError, page, see_other

router = APIRouter(prefix="/console", include_in_schema=False)
Ctx = Annotated[Console, Depends(console)]


def start_page(operator: bool) -> str:
    return "/console/operations" if operator else "/console/patients"


@router.get("")
def front_door(request: Request, c: Ctx) -> Response:
    try:
        who = current(request, c)
    except PageError:  # a stale cookie at the front door: forget it, sign in afresh
        response = see_other("/console/signin")
        clear_cookie(response)
        return response
    return see_other("/console/signin" if who is None else start_page(who.is_operator))


def _signin_form(c: Console, status: int = 200, error: str = "") -> Response:
    token = new_token()
    response = page("signin.html", status, signin_csrf=token, error=error)
    set_signin_cookie(response, token, c)
    return response


@router.get("/signin")
def signin_form(c: Ctx) -> Response:
    return _signin_form(c)


@router.post("/signin")
def signin(request: Request, form: Form, c: Ctx) -> Response:
    check_signin_csrf(request, form)
    secret = field(form, "token")
    if not secret.strip():
        return _signin_form(c, 422, "Enter your operator token or your clinic's API key.")
    opened = sign_in(c, secret, now_s()) if len(secret) <= 256 else None
    if opened is None:
        return _signin_form(c, 401, "That token or key is not valid (or was revoked). Check it and try again.")
    sid, who = opened
    response = see_other(start_page(who.is_operator))
    set_session_cookie(response, sid, c)
    return response


@router.post("/signout")
def signout(who: Who, form: Form, c: Ctx) -> Response:
    check_csrf(who, form)
    sign_out(c, who)
    response = see_other("/console/signin")
    clear_cookie(response)
    return response
