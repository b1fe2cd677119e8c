"""Helpers for tests that run caredrip workers as real processes: their environment, enrollments
that fall due at once (in a timezone where it is daytime right now), and a Redis crash on purpose."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from celery import Celery

from tests.support.engine import DATA_KEYS, SECRET, new_enrollment
from worker import processes
from worker.delivery.types import DeliveryDeps
from worker.enrollment import enroll
from worker.redis_process import RedisServer

AWAKE = ["America/New_York", "Europe/London", "Asia/Tokyo", "America/Los_Angeles", "Asia/Kolkata",
         "Australia/Sydney", "Pacific/Honolulu", "Asia/Dubai"]


def awake_timezone() -> str:
    """A zone where it is now between 09:00 and 19:00, so messages due now may go now."""
    now = datetime.now(UTC)
    for name in AWAKE:
        if 9 <= now.astimezone(ZoneInfo(name)).hour < 19:
            return name
    raise AssertionError("no awake zone in the list")


def worker_env(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a worker process on `url`: no settings leak in from this shell,
    3-second leases, the tests' secret; `extra` overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAREDRIP_", "TWILIO_", "SMTP_", "SMS_", "EMAIL_"))}
    env.update(REDIS_URL=url, CAREDRIP_VAR_DIR=str(tmp_path / "var"), CAREDRIP_LEASE_SECONDS="3",
               CAREDRIP_SECRET_KEY=SECRET.decode(), CAREDRIP_DATA_KEYS=DATA_KEYS, CAREDRIP_ENV="test",
               PATH=f"{Path(sys.executable).parent}:{env['PATH']}")
    env.update(extra)
    return env


def enroll_due_now(deps: DeliveryDeps, count: int, prefix: str = "p") -> list[str]:
    """`count` SMS-only enrollments whose welcome is due now; their ids."""
    tz = awake_timezone()
    return [
        enroll(deps.engine, new_enrollment(f"{prefix}-{i}", channels=("sms",), email=None, timezone=tz,
                                           phone=f"+1415555{i:04d}"))[0].id
        for i in range(count)
    ]


@contextlib.contextmanager
def celery_broker(app: Celery, url: str) -> Iterator[Celery]:
    """Send `app`'s tasks to the broker at `url` for the block, then put the previous one back.

    The app caches its connection and producer pools: a new URL alone would still publish to the
    old server (a test that restarts Redis on a server of its own needs this).
    """
    previous = app.conf.broker_url

    def point_at(target: str | None) -> None:
        app.conf.broker_url = target
        app._pool = None
        app.amqp._producer_pool = None

    point_at(url)
    try:
        yield app
    finally:
        point_at(previous)


def crash_redis(server: RedisServer) -> None:
    """SIGKILL the server's process group, as a crash would (whatever is not yet in the AOF is
    lost), and reap it; `server.start()` brings it back on the same port and directory."""
    assert server.pid is not None, "the server was never started"
    processes.signal_group(server.pid, signal.SIGKILL)
    server.stop()
