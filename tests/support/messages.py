"""A rendered message for channel tests: sensible defaults, each test overriding what it checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from worker.channels.base import OutgoingMessage


def outgoing(n: int = 0, **changes: Any) -> OutgoingMessage:
    """Message `n` of a fictional patient (an SMS unless `changes` say otherwise)."""
    fields: dict[str, Any] = {
        "id": f"e{n}:day1:0",
        "enrollment_id": f"e{n}",
        "clinic_id": "c1",
        "program": "twitching",
        "step": "day1",
        "channel": "sms",
        "to": "+15551234567",
        "body": "Hi Ana, drink water today.",
        "language": "en",
        "timezone": "America/Chicago",
        "due_at": datetime(2026, 3, 1, 15, 0, tzinfo=UTC),
    }
    return OutgoingMessage(**{**fields, **changes})
