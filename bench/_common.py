"""What every benchmark shares: a private Redis, worker subprocesses, fast setup, CPU accounting.

Nothing here touches the machine's Redis on 6379: each benchmark starts its own server on a free
port (worker.redis_server) and real `celery worker` processes in their own sessions, and stops
them all on the way out.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from tests.support.celery_worker import SubprocessWorker, subprocess_worker  # noqa: E402
from tests.support.engine import DATA_KEYS, SECRET, make_deps, new_enrollment  # noqa: E402
from worker import enrollment  # noqa: E402
from worker.clock import SystemClock  # noqa: E402
from worker.delivery.types import LEASE_SECONDS, DeliveryDeps  # noqa: E402
from worker.enrollment import NewEnrollment  # noqa: E402
from worker.records import Enrollment  # noqa: E402
from worker.redis_server import RedisServer  # noqa: E402
from worker.store.codec import encode_enrollment, encode_enrollment_unsealed  # noqa: E402
from worker.store.keys import STATS_TOTAL, due_key, enrollment_key  # noqa: E402

AWAKE = [
    "America/New_York",
    "Europe/London",
    "Asia/Tokyo",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Australia/Sydney",
    "Pacific/Honolulu",
    "Asia/Dubai",
    "Europe/Berlin",
    "America/Chicago",
]


def emit(result: dict[str, Any]) -> None:
    """Print the benchmark's one JSON object."""
    print(json.dumps(result, sort_keys=True))


def awake_timezone(hours: tuple[int, int] = (9, 19)) -> str:
    """A zone where it is now within `hours` local, so a message due now may go now."""
    now = datetime.now(UTC)
    for name in AWAKE:
        if hours[0] <= now.astimezone(ZoneInfo(name)).hour < hours[1]:
            return name
    for offset in range(-12, 15):  # Etc/GMT-N is N hours *ahead* of UTC
        name = f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}" if offset else "Etc/GMT"
        if hours[0] <= now.astimezone(ZoneInfo(name)).hour < hours[1]:
            return name
    raise AssertionError("no awake zone")


@contextlib.contextmanager
def private_redis() -> Iterator[RedisServer]:
    """A private redis-server on a free port in a temporary directory (AOF on, like compose)."""
    with tempfile.TemporaryDirectory(prefix="caredrip-bench-") as tmp:
        server = RedisServer.on_free_port(Path(tmp) / "redis")
        try:
            yield server
        finally:
            server.stop()


def redis_info(url: str) -> dict[str, str]:
    client = redis.Redis.from_url(url, decode_responses=True)
    info = client.info("server")
    return {
        "redis_version": str(info["redis_version"]),
        "redis_executable": str(info.get("executable", "")),
        "mem_allocator": str(client.info("memory").get("mem_allocator", "")),
    }


def worker_env(url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """A worker's environment: this process's, minus caredrip settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAREDRIP_", "TWILIO_", "SMTP_", "SMS_", "EMAIL_"))}
    env.update(
        REDIS_URL=url,
        CAREDRIP_VAR_DIR=str(var_dir),
        CAREDRIP_SECRET_KEY=SECRET.decode(),
        CAREDRIP_DATA_KEYS=DATA_KEYS,
        CAREDRIP_ENV="test",
        PATH=f"{Path(sys.executable).parent}:{env['PATH']}",
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def workers(
    app_module: str,
    url: str,
    env: dict[str, str],
    *,
    count: int = 1,
    pool: str = "prefork",
    concurrency: int = 2,
    queues: str = "send",
) -> Iterator[list[SubprocessWorker]]:
    """`count` real `celery worker` processes, each ready (answering ping) before the block runs."""
    with contextlib.ExitStack() as stack:
        started = [
            stack.enter_context(
                subprocess_worker(
                    app_module, url, env, pool=pool, concurrency=concurrency, queues=queues, ready_timeout=60
                )
            )
            for _ in range(count)
        ]
        yield started


def live_deps(
    url: str, outbox: Path, *, rate: float = 1_000_000.0, lease_seconds: int = LEASE_SECONDS, quiet: str = "21:00-08:00"
) -> DeliveryDeps:
    """Engine deps for the benchmark process (it dispatches, as the beat task would), with
    caredrip's default lease (its claims are renewed by the workers' heartbeats)."""
    from dataclasses import replace

    from worker.policy import parse_quiet_hours

    deps = make_deps(url, outbox, clock=SystemClock(), rate=rate, lease_seconds=lease_seconds)
    return replace(deps, engine=replace(deps.engine, quiet=parse_quiet_hours(quiet)))


def sms_only(i: int, tz: str, **overrides: Any) -> NewEnrollment:
    return new_enrollment(f"p-{i}", channels=("sms",), email=None, timezone=tz, phone=f"+1415{i:07d}", **overrides)


def both_channels(i: int, tz: str, **overrides: Any) -> NewEnrollment:
    return new_enrollment(
        f"p-{i}",
        channels=("sms", "email"),
        timezone=tz,
        phone=f"+1415{i:07d}",
        email=f"patient{i}@example.com",
        **overrides,
    )


def build_enrollment(deps: DeliveryDeps, new: NewEnrollment, now: datetime) -> Enrollment:
    """The enrollment `enroll()` would store for `new` at `now` (the engine's own builder)."""
    return enrollment.build_enrollment(deps.engine, new, now)


def bulk_store(
    deps: DeliveryDeps,
    enrollments: Sequence[Enrollment],
    *,
    due_ms: Callable[[Enrollment, str], int | None] | None = None,
    chunk: int = 2000,
    sealed: bool = True,
) -> None:
    """Write enrollments and their due entries with pipelined HSET + ZADD (setup only, not measured);
    `sealed=False`: the patients' details plain, as stored before sealing (the codec reads both)."""
    pipe = deps.engine.store.redis.pipeline(transaction=False)
    for i, e in enumerate(enrollments, 1):
        fields = encode_enrollment(e, deps.engine.keyring) if sealed else encode_enrollment_unsealed(e)
        pipe.hset(enrollment_key(e.id), mapping=dict[Any, Any](fields))
        for ch in e.channels:
            if due_ms is not None:
                score = due_ms(e, ch)
            else:
                due = e.next_due.get(ch)
                score = int(due.timestamp() * 1000) if due else None
            if score is not None:
                pipe.zadd(due_key(ch), {e.id: score})
        if i % chunk == 0:
            pipe.execute()
    pipe.execute()


# -- CPU accounting ---------------------------------------------------------------------------
_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields from "state" on (index 0 = field 3)


def group_cpu_seconds(pgids: Sequence[int]) -> float:
    """User + system CPU of every live process in these process groups, plus their reaped children."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat(int(entry))
        if fields is None or int(fields[2]) not in pgids:  # field 5: pgrp
            continue
        total += sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return total / _TICK


def pid_cpu_seconds(pid: int) -> float:
    fields = _stat(pid)
    return 0.0 if fields is None else sum(int(fields[i]) for i in (11, 12)) / _TICK


def self_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


@dataclass
class Stopwatch:
    start: float = 0.0

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.elapsed = time.perf_counter() - self.start

    elapsed: float = 0.0


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


class LineCounter:
    """Counts the lines of a growing file, reading only what was appended since the last call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.lines = 0

    def __call__(self) -> int:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return 0
        self.offset += len(data)
        self.lines += data.count(b"\n")
        return self.lines


def due_now(client: redis.Redis, channel: str = "sms") -> int:
    """Entries due by now (a sent message's enrollment comes back to the index for its next step)."""
    return int(client.zcount(due_key(channel), "-inf", int(time.time() * 1000)))


def sent_count(client: redis.Redis, state: str = "sent", channel: str = "sms", program: str = "twitching") -> int:
    return int(client.hget(STATS_TOTAL, f"{state}:{channel}:{program}") or 0)


def start_process(command: Sequence[str], env: dict[str, str] | None = None) -> Any:
    """A helper process (the Twilio stand-in, an API server) in its own session, output discarded."""
    from worker import processes

    child_env = {**os.environ, **(env or {})}
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), child_env.get("PYTHONPATH", "")) if p)
    return processes.start(list(command), env=child_env, cwd=ROOT)


def stop_process(process: Any, timeout: float = 10.0) -> None:
    """SIGTERM the process group, SIGKILL after `timeout` (worker.processes, as everywhere)."""
    from worker import processes

    processes.stop(process, timeout)


def wait_port(port: int, timeout: float = 20.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")


def quiet_logs() -> None:
    """Only warnings from the engine in a benchmark process: stdout carries the one JSON object."""
    from worker import logs

    logs.configure(level="WARNING")


def use_broker(url: str) -> None:
    """Point this process's caredrip Celery app (it enqueues send batches) at the private Redis.

    REDIS_URL is set first: the app binds its broker on first configuration, and without
    REDIS_URL it would start the embedded Redis under ./var instead.
    """
    os.environ["REDIS_URL"] = url
    from worker.celery_app import app

    app.conf.broker_url = url
