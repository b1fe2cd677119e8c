"""Build the message a patient gets for a pending step (or introduction): rendered text, links,
segment count."""

from __future__ import annotations

from worker.channels.base import OutgoingMessage
from worker.delivery.outcomes import log, record_outcomes
from worker.delivery.types import BatchOutcome, DeliveryDeps, Pending
from worker.errors import ContentError
from worker.records import Channel, MessageState, message_id
from worker.tokens import unsubscribe_token


def render_all(deps: DeliveryDeps, channel: str, ready: list[Pending], outcome: BatchOutcome) -> list[Pending]:
    rendered: list[Pending] = []
    for p in ready:
        if p.late:  # skipped by the catch-up policy: recorded, never sent, so never rendered
            rendered.append(p)
            continue
        try:
            p.message = render_message(deps, channel, p)
            rendered.append(p)
        except ContentError as exc:
            log.error("render_failed", enrollment_id=p.enrollment.id, step=p.step.id, channel=channel, error=str(exc))
            record_outcomes(deps, channel, [(p, MessageState.FAILED, None, "render_error")], outcome)
    return rendered


def render_message(deps: DeliveryDeps, channel: str, p: Pending, occurrence: int | None = None) -> OutgoingMessage:
    """The message for `p` on `channel` (an introduction's words for step `intro`), with its id
    (`occurrence`: a resend's; else the pending message's own), links and SMS segment count."""
    e = p.enrollment
    clinic = deps.clinics(e.clinic_id)
    context = {
        "first_name": e.first_name,
        "clinic_name": clinic.get("name", "your clinic"),
        "clinic_phone": clinic.get("phone", ""),
        "program_name": p.program.name,
    }
    mid = p.message_id(channel) if occurrence is None else message_id(e.id, p.step.id, channel, occurrence)
    base = deps.public_base_url
    common = dict(
        id=mid,
        enrollment_id=e.id,
        clinic_id=e.clinic_id,
        program=p.program.id,
        step=p.step.id,
        language=e.language,
        timezone=e.timezone,
        due_at=p.due(channel) or deps.engine.clock.now(),
    )
    if channel == Channel.SMS:
        sms = deps.renderer.sms(p.program, p.step.id, e.language, context)
        return OutgoingMessage(
            channel=Channel.SMS,
            to=e.phone or "",
            body=sms.body,
            segments=sms.segments,
            encoding=sms.encoding,
            status_callback_url=f"{base}/webhooks/twilio/status?m={mid}",
            **common,  # type: ignore[arg-type]
        )
    unsubscribe = f"{base}/unsubscribe/{unsubscribe_token(deps.engine.secret, e.id)}"
    mail = deps.renderer.email(p.program, p.step.id, e.language, {**context, "unsubscribe_url": unsubscribe})
    return OutgoingMessage(
        channel=Channel.EMAIL,
        to=e.email or "",
        body=mail.text,
        subject=mail.subject,
        html=mail.html,
        unsubscribe_url=unsubscribe,
        **common,  # type: ignore[arg-type]
    )
