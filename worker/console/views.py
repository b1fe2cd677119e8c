"""Rendering console pages: one Jinja environment (autoescape on for every template), the
security headers every page carries, and the 4xx pages a refused request gets.

A handler raises `PageError` (status, title, what to do); `install` turns it into an HTML page
with that status, never a 500 and never JSON. `SignInNeeded` sends a browser with no session to
the sign-in page.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

HEADERS = {
    # Scripts and styles only from the console's own static files: an injected tag does nothing.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}


class PageError(Exception):
    """Raised by a handler: answer `status` with a page saying `title` and what to do (`detail`)."""

    def __init__(self, status: int, title: str, detail: str, *, clear_session: bool = False) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.detail = detail
        self.clear_session = clear_session


class SignInNeeded(Exception):
    """Raised for a page asked without any session: the browser goes to the sign-in page."""


def _local(value: datetime | None, zone: str = "UTC") -> str:
    """`Tue 3 Mar 2026, 08:00 EST`: an instant in a zone, for people."""
    if value is None:
        return "—"
    local = value.astimezone(ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M %Z}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600} h {(s % 3600) // 60:02d} min"
    return f"{s // 86400} days"


env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined)
env.filters["local"] = _local
env.filters["duration"] = _duration


def page(template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """The template rendered with `values`, with the console's headers."""
    values.setdefault("who", None)
    values.setdefault("csrf", "")
    values.setdefault("nav", "")
    html = env.get_template(template).render(**values)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=HEADERS)


def error_page(status: int, title: str, detail: str) -> HTMLResponse:
    return page("error.html", status, title=title, detail=detail, status_code=status)


async def on_page_error(request: Request, exc: Exception) -> Response:
    from worker.console.auth import clear_cookie

    assert isinstance(exc, PageError)
    response = error_page(exc.status, exc.title, exc.detail)
    if exc.clear_session:
        clear_cookie(response)
    return response


async def on_sign_in_needed(request: Request, exc: Exception) -> Response:
    return see_other("/console/signin")
