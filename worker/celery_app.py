"""The Celery app and its configuration, every reliability setting chosen on purpose.

Queues: `intake` (enrollment events from systems on the same broker), `dispatch` (the beat
tick that claims due messages) and `send` (batches of messages for one channel). The schedule
itself lives in Redis, not in the broker: nothing here waits on an `eta` or `countdown`.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, signals
from kombu import Queue  # type: ignore[attr-defined]

from worker import wiring

app = Celery("caredrip", include=["worker.tasks"])

app.conf.update(
    # A task is acknowledged only after it ran, and one whose worker died is given back:
    # a send batch interrupted by SIGKILL runs again, and the per-message "sending" state in
    # Redis makes that second run skip (or mark `unknown`) what the first may have sent.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # One task reserved per process: a killed worker strands at most one batch, and batches
    # spread evenly over processes instead of queueing behind a busy one.
    worker_prefetch_multiplier=1,
    # Unacknowledged tasks come back after this long. It is longer than any task may run
    # (time limits below) and than a lease, so a slow batch is never run twice at once; a lost
    # one is reclaimed sooner by the lease reaper anyway.
    broker_transport_options={"visibility_timeout": 900},
    # A batch that hangs (provider down, network stalled) is interrupted, not left holding leases.
    task_soft_time_limit=240,
    task_time_limit=270,
    task_ignore_result=True,
    task_serializer="json",
    accept_content=["json"],
    task_default_queue="send",
    task_queues=[Queue("intake"), Queue("dispatch"), Queue("send")],
    task_routes={
        "caredrip.enroll": {"queue": "intake"},
        "caredrip.dispatch": {"queue": "dispatch"},
        "caredrip.send": {"queue": "send"},
        "caredrip.resend": {"queue": "send"},
    },
    # The dispatch tick: each run claims for about a second, then the next begins.
    beat_schedule={"dispatch": {"task": "caredrip.dispatch", "schedule": 1.0, "options": {"expires": 5}}},
    beat_max_loop_interval=1,
    worker_hijack_root_logger=False,
    worker_send_task_events=True,
    task_send_sent_event=True,
    broker_connection_retry_on_startup=True,
    enable_utc=True,
)


@app.on_after_configure.connect
def _bind_broker(sender: Celery, **_: Any) -> None:
    """The broker is the same Redis as the schedule: REDIS_URL, or the embedded server."""
    if not sender.conf.broker_url or sender.conf.broker_url.startswith("amqp"):
        sender.conf.broker_url = wiring.broker_url()


def _configure_logs(**_: Any) -> None:
    """Send outcomes become JSON lines (message id, enrollment, step, channel, outcome; no PHI)."""
    from worker import logs

    logs.configure()


signals.worker_init.connect(_configure_logs, weak=False)  # the worker's main process (threads, solo)
signals.worker_process_init.connect(_configure_logs, weak=False)  # each prefork child
