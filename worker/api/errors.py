"""How the API answers errors: 422 with one entry per field, 404 for what a clinic may not see.

- A body that fails validation answers 422 with `{loc, msg, type}` per error; `loc` names the
  field (a model-level "phone: ..." message moves its field into `loc`). An unauthenticated /v1
  request learns nothing about the body's shape: it answers 401.
- A rule of the engine that refuses input (`worker.errors.ValidationError`) answers 422 the same way.
- `worker.errors.NotFound` answers 404, whether the enrollment is missing or another clinic's.
- `worker.errors.Conflict` (an action the enrollment's state does not allow) answers 409.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from worker.api.auth import has_clinic_key
from worker.api.context import context
from worker.errors import Conflict, NotFound, ValidationError

_FIELD_PREFIX = re.compile(r"^([a-z_]+(?:\.[a-z_]+)*): (.+)$", re.DOTALL)


def field_error(error: dict[str, Any]) -> dict[str, Any]:
    """One pydantic error as {loc, msg, type}; a model-level "phone: ..." message moves into loc."""
    loc = list(error.get("loc", ()))
    msg = str(error.get("msg", "")).removeprefix("Value error, ")
    match = _FIELD_PREFIX.match(msg)
    if match:
        path = match.group(1).split(".")
        if loc[-len(path) :] != path:
            loc += path
        msg = match.group(2)
    return {"loc": loc, "msg": msg, "type": str(error.get("type", "value_error"))}


async def on_request_validation(request: Request, exc: Exception) -> Response:
    """422 with field errors; an unauthenticated /v1 request learns nothing but 401."""
    assert isinstance(exc, RequestValidationError)
    if request.url.path.startswith("/v1/") and not await run_in_threadpool(has_clinic_key, context(request), request):
        detail = "missing, unknown or revoked clinic key"
        return JSONResponse({"detail": detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
    return JSONResponse({"detail": [field_error(e) for e in exc.errors()]}, status_code=422)


async def on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    detail = [{"loc": ["body", *exc.field.split(".")], "msg": exc.message, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


async def on_not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": "enrollment not found"}, status_code=404)


async def on_conflict(request: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": str(exc)}, status_code=409)


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, on_request_validation)
    app.add_exception_handler(ValidationError, on_validation)
    app.add_exception_handler(NotFound, on_not_found)
    app.add_exception_handler(Conflict, on_conflict)
