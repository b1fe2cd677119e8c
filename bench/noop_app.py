"""A Celery app whose one task does nothing: the baseline for figure 1.

Same reliability and serialisation settings as worker/celery_app.py (acks_late, reject on worker
lost, prefetch 1, JSON, the same visibility timeout and time limits); only the beat schedule and
the task routes are left out. The broker is REDIS_URL.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from kombu import Queue  # type: ignore[attr-defined]

from worker.celery_app import app as caredrip_app

SKIP = {"beat_schedule", "task_routes", "task_queues", "task_default_queue", "include", "broker_url"}

app = Celery("noop", broker=os.environ.get("REDIS_URL", "redis://127.0.0.1:1/0"), set_as_current=False)
app.conf.update({k: v for k, v in caredrip_app.conf.changes.items() if k not in SKIP})
app.conf.update(task_default_queue="noop", task_queues=[Queue("noop")])  # type: ignore[no-untyped-call]


@app.task(name="bench.noop", ignore_result=True)  # type: ignore[untyped-decorator]
def noop(*_: Any) -> None:
    """Nothing: what Celery itself costs per task."""
