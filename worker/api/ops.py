"""Operations endpoints, without authentication: `/healthz` (liveness) and `/metrics` (Prometheus).

prometheus_client and the metrics' registry (`worker.metrics`) are loaded at the first scrape, not
while the API starts (issue 19: /healthz answers sooner after `caredrip run`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from worker.api.context import Ctx
from worker.api.schemas import Health
from worker.health import store_reachable
from worker.logs import get_logger

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

# prometheus_client.CONTENT_TYPE_LATEST of the installed version (a test checks they agree)
CONTENT_TYPE_LATEST = "text/plain; version=1.0.0; charset=utf-8"

log = get_logger("caredrip.api")
router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, responses={503: {"model": Health, "description": "Redis unreachable"}})
def healthz(ctx: Ctx) -> JSONResponse:
    try:
        reachable = store_reachable(ctx.engine())
    except Exception as exc:  # any failure to reach Redis (or to set up the connection) is "unavailable"
        log.warning("healthz_failed", error=type(exc).__name__)
        reachable = False
    health = Health(status="ok" if reachable else "unavailable", redis=reachable)
    return JSONResponse(health.model_dump(), status_code=200 if reachable else 503)


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(request: Request) -> Response:
    """Prometheus text: messages by state, channel and program; due backlog; oldest overdue age."""
    try:
        from worker.metrics import render

        body = render(registry(request.app))
    except Exception as exc:
        log.warning("metrics_failed", error=type(exc).__name__)
        return Response("redis unavailable\n", status_code=503, media_type="text/plain")
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def registry(app: FastAPI) -> CollectorRegistry:
    """The app's metrics registry (`worker.metrics`), made at the first scrape. Two first scrapes at
    once may each make one: both read the same store, the one kept is either."""
    made: CollectorRegistry | None = getattr(app.state, "registry", None)
    if made is None:
        from worker.metrics import make_registry

        made = app.state.registry = make_registry(lambda: app.state.ctx.engine())
    return made
