"""A Celery app with Celery's default settings whose one task does nothing: the issue's baseline
"raw Celery with default settings" beside bench/noop_app.py (caredrip's settings). The broker is
REDIS_URL; only the queue is named (`noop`)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from kombu import Queue  # type: ignore[attr-defined]

app = Celery("noop_defaults", broker=os.environ.get("REDIS_URL", "redis://127.0.0.1:1/0"), set_as_current=False)
app.conf.update(task_default_queue="noop", task_queues=[Queue("noop")])  # type: ignore[no-untyped-call]


@app.task(name="bench.noop", ignore_result=True)  # type: ignore[untyped-decorator]
def noop(*_: Any) -> None:
    """Nothing: what Celery itself costs per task, configured as it ships."""
