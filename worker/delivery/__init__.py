"""Delivery: claim what is due, send it in batches, record outcomes, resend on request.

Modules, bottom up: types (deps and the records of a batch), compose (render one message),
outcomes (classify and record), send (a claimed batch), dispatch (claim and hand over), resend.
"""

from worker.delivery.dispatch import dispatch_once, dispatch_window
from worker.delivery.send import send_batch
from worker.delivery.types import DeliveryDeps

__all__ = ["DeliveryDeps", "dispatch_once", "dispatch_window", "send_batch"]
