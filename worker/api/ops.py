"""Operations endpoints, without authentication: `/healthz` (liveness) and `/metrics` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from worker.api.context import Ctx
from worker.api.schemas import Health
from worker.health import store_reachable
from worker.logs import get_logger
from worker.metrics import render

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
        body = render(request.app.state.registry)
    except Exception as exc:
        log.warning("metrics_failed", error=type(exc).__name__)
        return Response("redis unavailable\n", status_code=503, media_type="text/plain")
    return Response(body, media_type=CONTENT_TYPE_LATEST)
