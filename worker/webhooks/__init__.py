"""Clinic webhooks. Exported here, the parts that need no store or network: signing (`signing`),
the event envelope and its stable id (`events`), and when to try again (`backoff`). Beside them:
which URLs a clinic may register (`urls`), the alert email (`alert_mail`), and delivery itself
(`delivery`: claim what is due, one signed attempt per task), which `worker.events.emit` feeds."""

from worker.webhooks.backoff import ATTEMPT_TIMEOUT_SECONDS, RETRY_WINDOW_SECONDS, next_delay_seconds, retry_offsets
from worker.webhooks.events import EventType, build_event, encode_event, event_id
from worker.webhooks.signing import HEADER, new_secret, sign, verify

__all__ = [
    "ATTEMPT_TIMEOUT_SECONDS",
    "HEADER",
    "RETRY_WINDOW_SECONDS",
    "EventType",
    "build_event",
    "encode_event",
    "event_id",
    "new_secret",
    "next_delay_seconds",
    "retry_offsets",
    "sign",
    "verify",
]
