"""The caller's own clinic: `GET /v1/clinic`, and registering its webhook (`PUT /v1/clinic/webhook`).

Each route acts only on the clinic whose key the request carries. Registering answers a new
signing secret every time (shown once, stored sealed); `{"url": null}` removes the webhook.
Handlers call `worker.clinics`.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from worker.api.auth import ClinicId
from worker.api.context import Ctx
from worker.api.schemas import ERROR_RESPONSES
from worker.clinics import get_clinic, register_webhook, remove_webhook

router = APIRouter(prefix="/v1/clinic", tags=["clinic"], responses=ERROR_RESPONSES)


class ClinicOut(BaseModel):
    """The caller's clinic as patients and caredrip know it."""

    id: str
    name: str
    phone: str | None = Field(description="The number patients may call, E.164; null when none")
    email: str | None = Field(description="Where urgent alerts are emailed; null when none")
    webhook_url: str | None = Field(description="Where events are POSTed; null when none is registered")


class WebhookBody(BaseModel):
    """The URL to POST events to: https (http only to localhost, or outside production); null removes it."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(max_length=2000, examples=["https://clinic.example/caredrip/events"])


class WebhookOut(BaseModel):
    """The registered URL and its new signing secret (shown this once); both null once removed."""

    url: str | None
    secret: str | None = Field(description="Verify each POST's Caredrip-Signature with it (see the README)")


@router.get("", response_model=ClinicOut)
def own_clinic(cid: ClinicId, ctx: Ctx) -> ClinicOut:
    """The clinic the key belongs to."""
    info = get_clinic(ctx.clinics(), cid)
    return ClinicOut(
        id=info.id,
        name=info.name,
        phone=info.phone or None,
        email=info.email or None,
        webhook_url=info.webhook_url or None,
    )


@router.put("/webhook", response_model=WebhookOut)
def put_webhook(body: WebhookBody, cid: ClinicId, ctx: Ctx) -> WebhookOut:
    """Register (or replace) the clinic's webhook; each call makes a new signing secret."""
    if body.url is None:
        remove_webhook(ctx.clinics(), cid)
        return WebhookOut(url=None, secret=None)
    url, secret = register_webhook(ctx.clinics(), ctx.engine().keyring, cid, body.url, production=ctx.production())
    return WebhookOut(url=url, secret=secret)
