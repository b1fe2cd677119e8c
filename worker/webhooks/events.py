"""Webhook events: the types a clinic can receive and the JSON envelope each is sent in.

    {"id": "evt_…", "type": "alert.raised", "created_at": "2026-11-30T14:05:00+00:00", "data": {…}}

An event's id is derived from its type and a key naming the occurrence (a reply's id; an
enrollment id and the instant it opted out), so the same occurrence always has the same id:
every retry, and even a second raise of it after a crash, carries one id a clinic can
de-duplicate on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

ID_PREFIX = "evt_"


class EventType(StrEnum):
    REPLY_RECEIVED = "reply.received"
    ALERT_RAISED = "alert.raised"
    ENROLLMENT_OPTED_OUT = "enrollment.opted_out"
    ENROLLMENT_COMPLETED = "enrollment.completed"
    MESSAGE_FAILED = "message.failed"


def event_id(event_type: EventType, key: str) -> str:
    """'evt_' and 32 hex digits of SHA-256 over the type and `key`: stable, and unguessable
    from the outside only as far as `key` is."""
    if not key:
        raise ValueError("an event needs a key naming its occurrence")
    return ID_PREFIX + hashlib.sha256(f"{event_type.value}\n{key}".encode()).hexdigest()[:32]


def build_event(event_type: EventType, *, key: str, created_at: datetime, data: Mapping[str, Any]) -> dict[str, Any]:
    """The envelope for one occurrence; `created_at` (timezone-aware) is written in UTC."""
    if created_at.tzinfo is None:
        raise ValueError("created_at must be timezone-aware")
    return {
        "id": event_id(event_type, key),
        "type": event_type.value,
        "created_at": created_at.astimezone(UTC).isoformat(),
        "data": dict(data),
    }


def encode_event(event: Mapping[str, Any]) -> bytes:
    """The body to sign and send: compact UTF-8 JSON. Encode once and keep the bytes, so every
    retry sends (and signs) the very same body."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
