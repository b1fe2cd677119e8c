"""Delivery: claim what is due, send it in batches, record outcomes, resend on request.

Modules, bottom up: types (deps and the records of a batch), compose (render one message),
outcomes (classify and record), send (a claimed batch), dispatch (claim and hand over), resend.

The names below are loaded on first use (PEP 562): importing one submodule (the API renders
through `compose` and `types`) does not import dispatch and send with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from worker.delivery.dispatch import dispatch_once, dispatch_window
    from worker.delivery.send import send_batch
    from worker.delivery.types import DeliveryDeps

__all__ = ["DeliveryDeps", "dispatch_once", "dispatch_window", "send_batch"]

_HOMES = {
    "DeliveryDeps": "worker.delivery.types",
    "dispatch_once": "worker.delivery.dispatch",
    "dispatch_window": "worker.delivery.dispatch",
    "send_batch": "worker.delivery.send",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
