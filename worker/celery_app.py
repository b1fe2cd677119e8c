"""The Celery app: its configuration comes from `worker/config/celery.toml` (each setting with its
reason beside it), its broker is the schedule's Redis, and its workers log JSON lines.

The schedule itself lives in Redis, not in the broker: nothing here waits on an `eta` or `countdown`.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from celery import Celery, signals
from kombu import Queue  # type: ignore[attr-defined]

from worker.var_dir import use_private_umask

use_private_umask()  # worker, beat (its schedule file) and Flower: what they write is private (0600)

CELERY_CONFIG = Path(__file__).parent / "config" / "celery.toml"


def load_celery_config(path: Path = CELERY_CONFIG) -> dict[str, Any]:
    """The settings in `path`, ready for `app.conf.update`: queue names become kombu Queues."""
    conf = tomllib.loads(path.read_text(encoding="utf-8"))
    conf["task_queues"] = [Queue(name) for name in conf["task_queues"]]
    return conf


def _bind_broker(sender: Celery, **_: Any) -> None:
    """The broker is the same Redis as the schedule: REDIS_URL, or the embedded server."""
    if not sender.conf.broker_url or sender.conf.broker_url.startswith("amqp"):
        from worker import wiring  # here: beat (worker.beat_app) needs its broker, not the engine

        sender.conf.broker_url = wiring.broker_url()


def configured(celery: Celery) -> Celery:
    """`celery` with caredrip's settings (the file above) and its broker bound to the schedule's Redis."""
    celery.conf.update(load_celery_config())
    celery.on_after_configure.connect(_bind_broker, weak=False)
    return celery


app = configured(Celery("caredrip", include=["worker.tasks"]))


def _configure_logs(**_: Any) -> None:
    """Send outcomes become JSON lines (message id, enrollment, step, channel, outcome; no PHI)."""
    from worker import logs

    logs.configure()


def _check_redis(**_: Any) -> None:
    """Warn once in the log if REDIS_URL's server keeps sealed values out of compact hashes."""
    from worker import logs, redis_tuning

    redis_tuning.check_at_start(logs.get_logger("caredrip.redis"))


signals.worker_init.connect(_configure_logs, weak=False)  # the worker's main process (threads, solo)
signals.worker_init.connect(_check_redis, weak=False)
signals.worker_process_init.connect(_configure_logs, weak=False)  # each prefork child
