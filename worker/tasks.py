"""Celery tasks: thin wrappers over the engine (worker.enrollment, worker.delivery).

`caredrip.enroll` carries a patient's name, phone and email: its arguments are redacted wherever
Celery shows them (task events, so Flower; `inspect active/reserved`; the worker's log), both
when this app sends it (`IntakeTask`) and when the worker receives it (`IntakeRequest`), so a
clinic system that sends it without `argsrepr` still leaks nothing through the worker.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from celery.worker.request import Request

from worker import wiring
from worker.celery_app import app
from worker.delivery.dispatch import dispatch_window
from worker.delivery.resend import resend as resend_message
from worker.delivery.send import send_batch
from worker.intake_queue import accept, shown_clinic_id
from worker.webhooks.delivery import claim_due, deliver

DISPATCH_WINDOW_SECONDS = 1.0  # = the beat period: windows follow each other


@app.task(name="caredrip.dispatch", ignore_result=True)
def dispatch() -> int:
    """Claim due messages for about a second, in ticks of at most one virtual minute."""
    deps = wiring.delivery_deps()
    return dispatch_window(deps, enqueue_send, window_seconds=DISPATCH_WINDOW_SECONDS, sleep=time.sleep)


@app.task(name="caredrip.send", ignore_result=True)
def send(channel: str, handles: list[str]) -> dict[str, int]:
    """Send a claimed batch: `handles` are `<enrollment id>:<claim token>` (bare ids still work)."""
    return send_batch(wiring.delivery_deps(), channel, handles).counts


@app.task(name="caredrip.resend", ignore_result=True)
def resend(message_id: str) -> str:
    return resend_message(wiring.delivery_deps(), message_id)


@app.task(name="caredrip.webhooks_due", ignore_result=True)
def webhooks_due() -> int:
    """Hand the clinic-event deliveries due now to `caredrip.webhook` tasks (beat, every second)."""
    return claim_due(wiring.delivery_deps(), enqueue_webhook)


@app.task(name="caredrip.webhook", ignore_result=True)
def webhook(handle: str) -> str | None:
    """One attempt at a clinic-event delivery: `handle` is `<kind>:<event id>` (ids only)."""
    state = deliver(wiring.delivery_deps(), handle)
    return state.value if state else None


REDACTED = "<enrollment body: redacted>"


def intake_argsrepr(args: Sequence[Any] | None, kwargs: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """(argsrepr, kwargsrepr) of a `caredrip.enroll` call: the clinic id (when it looks like one)
    and the body replaced by a marker, so nothing a patient told the clinic reaches an event."""
    args = list(args or ())
    kwargs = dict(kwargs or {})
    shown = shown_clinic_id(args[0] if args else kwargs.get("clinic_id"))
    if args:
        return repr((shown, *([REDACTED] * (len(args) - 1)))), repr({k: REDACTED for k in kwargs})
    return "()", repr({k: (shown if k == "clinic_id" else REDACTED) for k in kwargs})


class IntakeRequest(Request):  # type: ignore[misc]
    """A received `caredrip.enroll`: its events, `inspect` answers and log lines show the redacted
    arguments, whatever the sender put in the message's `argsrepr`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._argsrepr, self._kwargsrepr = intake_argsrepr(self._args, self._kwargs)

    def info(self, safe: bool = False) -> dict[str, Any]:
        info: dict[str, Any] = super().info(safe=True)
        return info


class IntakeTask(app.Task):  # type: ignore[misc]
    """Sent from this app (`enroll.delay`, `enroll.apply_async`): the message's `argsrepr`, and so
    its `task-sent` event, are redacted."""

    Request = IntakeRequest

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        argsrepr, kwargsrepr = intake_argsrepr(args, kwargs)
        options.setdefault("argsrepr", argsrepr)
        options.setdefault("kwargsrepr", kwargsrepr)
        return super().apply_async(args, kwargs, **options)


@app.task(name="caredrip.enroll", ignore_result=False, base=IntakeTask, bind=True)
def enroll(self: Any, clinic_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    """For clinic systems on the same broker: the same validation and idempotency as the API;
    an unknown or revoked clinic or a bad body answers `{"error": {"field", "message"}}` and is
    listed for operators (`caredrip intake failed`)."""
    intake_id = self.request.id or f"local-{uuid.uuid4()}"
    return accept(wiring.engine_deps(), wiring.clinics(), clinic_id, payload, intake_id=intake_id)


def enqueue_send(channel: str, handles: list[str]) -> None:
    send.apply_async((channel, handles), queue="send")


def enqueue_webhook(handle: str) -> None:
    webhook.apply_async((handle,), queue="webhooks")
