"""The console under `/console`: pages for operators, clinics and content authors, served by the
API process from Jinja templates (autoescape on) and the package's own static files.

Modules: deps (what handlers are given), views (rendering, headers, 4xx pages), auth (sessions,
CSRF), operators (`caredrip operator add`), signin, patients + timeline, operations, programs.
`install(app)` mounts it all on the API app (`worker.api.factory`).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from worker.console import operations, patients, programs, signin
from worker.console.deps import ConsoleDeps
from worker.console.views import STATIC, PageError, SignInNeeded, error_page, on_page_error, on_sign_in_needed

__all__ = ["ConsoleDeps", "install"]

_fallback = APIRouter(prefix="/console", include_in_schema=False)


@_fallback.api_route("/{rest:path}", methods=["GET", "POST"])
def not_found(rest: str, request: Request) -> Response:
    return error_page(404, "Page not found", "There is no console page here. Start again from /console.")


def install(app: FastAPI, deps: ConsoleDeps | None = None) -> None:
    """Mount the console's static files, pages and 4xx pages on `app`."""
    app.state.console = deps or ConsoleDeps()
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    for module in (signin, patients, operations, programs):
        app.include_router(module.router)
    app.include_router(_fallback)
    app.add_exception_handler(PageError, on_page_error)
    app.add_exception_handler(SignInNeeded, on_sign_in_needed)
