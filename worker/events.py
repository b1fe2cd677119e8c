"""Events a clinic hears about: one door, `emit`, for every occurrence a clinic's webhook (and,
for urgent alerts, its email address) must be told of.

The callers (inbound replies, opt-outs, completions, failures) only name the occurrence; how it
reaches the clinic lives behind this function: the event is stored once, its JSON body encoded
once (every retry sends the same bytes), and a delivery per destination waits in the store's due
set for `worker.webhooks.delivery` (signed POSTs retried for 24 hours, the alert email). Data
carries ids, never PHI beyond what the clinic itself supplied (its `patient_ref`).

`emit` never raises: an occurrence must not fail the path it happened on (a send, a STOP). A
failure is logged with ids only and counted (`caredrip status`, /metrics).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from worker.deps import EngineDeps
from worker.logs import get_logger
from worker.store import DeliveryKind
from worker.webhooks.events import EventType, build_event, encode_event, event_id

log = get_logger("caredrip.events")

EVENT_KEEP_DAYS = 30  # an event and its attempts, after its last write: delivered in 24 h, inspected after


def event_ttl_s(deps: EngineDeps) -> int:
    """How long an event and its attempts are kept: 30 days, or the retention if shorter."""
    return min(deps.retention_s, EVENT_KEEP_DAYS * 86400)


# Fields that would carry PHI: never sent, whoever passes them (names, numbers, addresses, texts).
PHI_FIELDS = frozenset({"body", "text", "name", "first_name", "phone", "number", "to", "from", "email", "address"})


def emit(
    deps: EngineDeps, clinic_id: str, event_type: EventType, *, key: str, at: datetime, data: Mapping[str, Any]
) -> None:
    """Tell clinic `clinic_id` of one occurrence (`key` names it, so a second emit of the same
    occurrence is the same event and does nothing). Never raises for a clinic without a webhook."""
    try:
        _emit(deps, clinic_id, event_type, key=key, at=at, data=data)
    except Exception as exc:  # an event must never fail the path it happened on
        failed(deps, "event_emit_failed", exc, clinic_id=clinic_id, type=event_type.value)


def _emit(
    deps: EngineDeps, clinic_id: str, event_type: EventType, *, key: str, at: datetime, data: Mapping[str, Any]
) -> None:
    target = deps.store.event_target(clinic_id)
    kinds = [DeliveryKind.HOOK] if target.webhook_url else []
    if event_type is EventType.ALERT_RAISED and target.email:
        kinds.append(DeliveryKind.MAIL)
    if not kinds:
        return
    dropped = sorted(k for k in data if k.lower() in PHI_FIELDS)
    if dropped:
        log.warning("event_fields_dropped", type=event_type.value, fields=dropped)
    event = build_event(event_type, key=key, created_at=at, data={k: v for k, v in data.items() if k not in dropped})
    body = encode_event(event)
    deps.store.add_event(
        event["id"], clinic_id, event_type.value, body, kinds, at=at, due=deps.clock.now(), ttl_s=event_ttl_s(deps)
    )
    log.info("event", event_id=event["id"], clinic_id=clinic_id, type=event_type.value, to=[k.value for k in kinds])


def failed(deps: EngineDeps, what: str, exc: BaseException, **ids: str) -> None:
    """Log a failed emit (ids and the error's type only: its text may quote data) and count it."""
    log.warning(what, error=type(exc).__name__, **ids)
    try:
        deps.store.count_emit_error()
    except Exception:  # Redis itself is away: the log line is all there is
        log.warning("event_emit_uncounted")


__all__ = ["EventType", "emit", "event_id", "event_ttl_s"]
