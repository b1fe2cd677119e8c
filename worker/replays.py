"""Webhook replay guard: what a provider message id asks for is done once.

Twilio signs a webhook's URL and parameters but not its time, so a captured request stays valid
and can be posted again (and Twilio itself retries a webhook that got no answer). Each action is
keyed by the provider's message id (`MessageSid`): the first sighting claims it for
`REPLAY_WINDOW` (SET NX with an expiry, in the store) and acts; a later sighting within the window
is a replay and does nothing. If the action fails, the claim is dropped, so a retry can act.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from worker.store import Store

T = TypeVar("T")
REPLAY_WINDOW = timedelta(days=7)
_PLAIN_ID = re.compile(r"[A-Za-z0-9]{1,64}")


def act_once(store: Store, kind: str, message_sid: str, action: Callable[[], T]) -> T | None:
    """`action()` unless (`kind`, `message_sid`) was acted on within the window (then None).

    Without a message id there is nothing to recognise a replay by: the action runs. (Twilio
    always sends one, and the signature covers it, so a replay cannot drop it.)
    """
    if not message_sid:
        return action()
    ident = message_sid if _PLAIN_ID.fullmatch(message_sid) else hashlib.sha256(message_sid.encode()).hexdigest()
    if not store.first_sighting(kind, ident, int(REPLAY_WINDOW.total_seconds())):
        return None
    try:
        return action()
    except BaseException:
        store.forget_sighting(kind, ident)
        raise
