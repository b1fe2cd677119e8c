"""Events a clinic hears about: one door, `emit`, for every occurrence a clinic's webhook (and,
for urgent alerts, its email address) must be told of.

The callers (inbound replies, opt-outs, completions, failures) only name the occurrence; how it
reaches the clinic (a stored event, signed POSTs retried for 24 hours, an alert email) lives
behind this function. Data carries ids, never PHI beyond what the clinic itself supplied.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from worker.deps import EngineDeps
from worker.webhooks.events import EventType


def emit(
    deps: EngineDeps, clinic_id: str, event_type: EventType, *, key: str, at: datetime, data: Mapping[str, Any]
) -> None:
    """Tell clinic `clinic_id` of one occurrence (`key` names it, so a second emit of the same
    occurrence is the same event). Never raises for a clinic without a webhook."""
    # Delivery is built in the webhooks work (issue 15); until then an event is dropped.
    return None
