"""Celery tasks: thin wrappers over the engine (worker.enrollment, worker.delivery)."""

from __future__ import annotations

import time
from typing import Any

from worker import intake, wiring
from worker.celery_app import app
from worker.delivery.dispatch import dispatch_window
from worker.delivery.resend import resend as resend_message
from worker.delivery.send import send_batch

DISPATCH_WINDOW_SECONDS = 1.0  # = the beat period: windows follow each other


@app.task(name="caredrip.dispatch", ignore_result=True)
def dispatch() -> int:
    """Claim due messages for about a second, in ticks of at most one virtual minute."""
    deps = wiring.delivery_deps()
    return dispatch_window(deps, enqueue_send, window_seconds=DISPATCH_WINDOW_SECONDS, sleep=time.sleep)


@app.task(name="caredrip.send", ignore_result=True)
def send(channel: str, enrollment_ids: list[str]) -> dict[str, int]:
    return send_batch(wiring.delivery_deps(), channel, enrollment_ids).counts


@app.task(name="caredrip.resend", ignore_result=True)
def resend(message_id: str) -> str:
    return resend_message(wiring.delivery_deps(), message_id)


@app.task(name="caredrip.enroll", ignore_result=False)
def enroll(clinic_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    """For clinic systems on the same broker: the same validation and idempotency as the API."""
    new = intake.parse_enrollment(clinic_id, payload, wiring.engine_deps())
    from worker.enrollment import enroll as do_enroll

    enrollment, created = do_enroll(wiring.engine_deps(), new)
    return {"id": enrollment.id, "created": created}


def enqueue_send(channel: str, enrollment_ids: list[str]) -> None:
    send.apply_async((channel, enrollment_ids), queue="send")
