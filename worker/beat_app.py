"""The Celery app `celery beat` runs under `caredrip run` and `caredrip demo`: the settings and
broker of `worker.celery_app`, without its task modules.

Beat only publishes: every second `caredrip.dispatch` and `caredrip.webhooks_due`, by name, to the
queues `task_routes` names, with the options of `beat_schedule`. The same message leaves whether
the task is registered in the process or not; loading `worker.tasks` (the whole engine, most of
beat's start-up CPU) only made beat slower to start, on the cores the API and the worker start on.
"""

from __future__ import annotations

from celery import Celery

from worker.celery_app import configured

app = configured(Celery("caredrip"))
