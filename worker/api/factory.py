"""The FastAPI app: routers, error handlers, body limit and JSON logs over one `ApiContext`.

`create_app()` takes the deps tests build; each one left None comes from `worker.wiring` when
first needed, so `worker.api.app` (what `uvicorn worker.api:app` serves) connects to nothing at import.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from worker import console, logs, redis_tuning
from worker.api import audit, bulk, clinic, enrollments, erasure, explain, fhir, ops, replies, unsubscribe, webhooks
from worker.api.body_limit import BodyLimit
from worker.api.context import ApiContext
from worker.api.errors import add_error_handlers
from worker.deps import EngineDeps
from worker.policy import Caps
from worker.store import ClinicStore


@asynccontextmanager
async def _configure_logs(app: FastAPI) -> AsyncIterator[None]:
    """JSON log lines from the API process too (no PHI: see worker.logs); a warning if the Redis
    it is given is tuned too tight for sealed values (worker.redis_tuning)."""
    logs.configure()
    given: EngineDeps | None = app.state.ctx.engine_deps
    await run_in_threadpool(
        redis_tuning.check_at_start, logs.get_logger("caredrip.redis"), None if given is None else given.store
    )
    yield


def create_app(
    engine: EngineDeps | None = None,
    clinics: ClinicStore | None = None,
    *,
    public_base_url: str | None = None,
    twilio_auth_token: str | None = None,
    console_deps: console.ConsoleDeps | None = None,
    caps: Caps | None = None,
) -> FastAPI:
    """The API over the given deps; each one left None comes from `worker.wiring` when first needed."""
    app = FastAPI(
        lifespan=_configure_logs,
        title="caredrip",
        version="0.1.0",
        description="Patient-education SMS and email programs: enroll patients, follow their messages.",
    )
    app.state.ctx = ApiContext(engine, clinics, public_base_url, twilio_auth_token, caps)
    for module in (bulk, explain, enrollments, erasure, replies, audit, clinic, webhooks, unsubscribe, ops):
        app.include_router(module.router)
    fhir.install(app)
    console.install(app, console_deps)  # /console: pages for operators, clinics, content authors
    add_error_handlers(app)
    app.add_middleware(BodyLimit, larger={bulk.BULK_PATH: bulk.BULK_MAX_BYTES})
    return app
