"""A tiny Celery app whose tasks leave their mark in Redis: the subject of the worker-fixture tests.

`make_app(broker_url)` builds a fresh app (in-process tests); the module-level `app` reads its
broker from `SAMPLE_BROKER_URL` and is what `celery -A tests.support.celery_sample_app` loads.
"""

from __future__ import annotations

import os
import time

import redis
from celery import Celery

RECORD = "sample.record"
SLOW_RECORD = "sample.slow_record"


def record(redis_url: str, key: str, value: str) -> None:
    """Append `value` and the worker's pid to the list `key`."""
    client = redis.Redis.from_url(redis_url)
    try:
        client.rpush(key, f"{value}:{os.getpid()}")
    finally:
        client.close()


def slow_record(redis_url: str, key: str, value: str, seconds: float) -> None:
    """Record `value` under `key:started`, run `seconds` (overrunning a shutdown), then `key`."""
    record(redis_url, f"{key}:started", value)
    time.sleep(seconds)
    record(redis_url, key, value)


def make_app(broker_url: str) -> Celery:
    """A Celery app on `broker_url` with the sample tasks; no result backend."""
    sample = Celery("caredrip_sample", broker=broker_url, set_as_current=False)
    sample.conf.update(
        task_ignore_result=True,
        task_default_queue="intake",
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    sample.task(name=RECORD)(record)
    sample.task(name=SLOW_RECORD)(slow_record)
    return sample


app = make_app(os.environ.get("SAMPLE_BROKER_URL", "memory://"))
