"""`caredrip demo`: a whole program in about a minute, printed as each message goes out.

The demo runs in a world of its own: `<CAREDRIP_VAR_DIR>/demo/` holds a private embedded Redis
(never `REDIS_URL`: the scaled clock is shared by every process on a Redis, and a demo must not
fast-forward real patients), the outbox and the children's logs, all wiped at the start. A worker
and beat run on a clock `DEMO_SCALE` times faster than real time; a fictional patient is enrolled
in-process; the outbox is tailed until the enrollment is `completed`. Quiet hours and caps apply
in virtual time, so messages land at the program's local times.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from worker.clock import shared_scaled_clock
from worker.records import Channel, EnrollmentState
from worker.redis_server import ensure_embedded, stop_embedded
from worker.settings import Settings
from worker.supervisor import Supervisor, celery_beat, celery_worker, stop_requested
from worker.var_dir import private_dir

PROGRAM = "twitching"
DEMO_DAYS = 28
DEMO_REAL_SECONDS = 60.0
DEMO_SCALE = DEMO_DAYS * 86400 / DEMO_REAL_SECONDS  # 40,320: a virtual day every ~2.1 s
DEMO_BOUND = 180.0  # real seconds before the demo gives up
READY_TIMEOUT = 30.0  # real seconds for worker and beat to run their first dispatch
POLL_INTERVAL = 0.05
PATIENT: dict[str, Any] = {
    "patient_ref": "demo-ana",
    "program": PROGRAM,
    "first_name": "Ana",
    "phone": "+15005550006",
    "email": "ana@example.com",
    "channels": ["sms", "email"],
    "language": "en",
    "timezone": "America/New_York",
}
CLINIC = {"name": "Riverside Demo Clinic", "phone": "+16175550123", "email": "clinic@example.com"}

Print = Callable[[str], None]


class DemoError(Exception):
    """Raised when the demo cannot go on: a child died, or nothing happened in time."""


@dataclass
class OutboxTail:
    """Reads the lines appended to the outbox since the last call (whole lines only)."""

    path: Path
    offset: int = 0
    pending: bytes = b""

    def new_records(self) -> Iterator[dict[str, Any]]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except FileNotFoundError:
            return
        self.offset += len(chunk)
        data = self.pending + chunk
        *lines, self.pending = data.split(b"\n")
        for line in lines:
            if line.strip():
                yield json.loads(line)


@dataclass
class Tally:
    """What went out, for the closing line: counts per channel and lateness (virtual seconds)."""

    per_channel: dict[str, int] = field(default_factory=dict)
    lateness: list[float] = field(default_factory=list)

    def add(self, record: dict[str, Any]) -> None:
        self.per_channel[record["channel"]] = self.per_channel.get(record["channel"], 0) + 1
        late = datetime.fromisoformat(record["sent_at"]) - datetime.fromisoformat(record["due_at"])
        self.lateness.append(max(0.0, late.total_seconds()))


def format_message(record: dict[str, Any], enrolled_local: datetime) -> str:
    """`day  2  Tue Mar 03 10:00 EST  sms    hydration        Hi Ana, …` (email: its subject)."""
    tz = ZoneInfo(record["timezone"])
    local = datetime.fromisoformat(record["sent_at"]).astimezone(tz)
    day = (local.date() - enrolled_local.date()).days
    text = record.get("subject") if record["channel"] == Channel.EMAIL else record["body"]
    text = " ".join(str(text or "").split())
    return f"day {day:>2}  {local:%a %b %d %H:%M %Z}  {record['channel']:<5}  {record['step']:<20} {text}"


def prepare_world(settings: Settings) -> Path:
    """A clean `<var>/demo/`: any earlier demo's Redis stopped and its files removed."""
    var_dir = private_dir(settings.var_dir) / "demo"
    stop_embedded(var_dir)
    shutil.rmtree(var_dir, ignore_errors=True)
    return private_dir(var_dir)


def demo_environment(var_dir: Path, redis_url: str) -> dict[str, str]:
    """Settings for this process and its children: private Redis, outbox channels, scaled clock."""
    return {
        "REDIS_URL": redis_url,
        "CAREDRIP_VAR_DIR": str(var_dir),
        "CAREDRIP_TIME_SCALE": repr(DEMO_SCALE),
        "CAREDRIP_ENV": "development",
        "SMS_CHANNEL": "outbox",
        "EMAIL_CHANNEL": "outbox",
        "PYTHONUNBUFFERED": "1",
    }


def enroll_sample() -> tuple[str, datetime]:
    """Add the demo clinic and enroll the fictional patient; (enrollment id, enrolled at)."""
    from worker import wiring
    from worker.clinics import add_clinic
    from worker.enrollment import enroll
    from worker.intake import parse_enrollment

    deps = wiring.engine_deps()
    now = deps.clock.now()
    clinic_id, _key = add_clinic(wiring.clinics(), CLINIC["name"], CLINIC["phone"], CLINIC["email"], now)
    payload = {**PATIENT, "consent": {"sms": True, "email": True, "recorded_at": now.isoformat()}}
    enrollment, _created = enroll(deps, parse_enrollment(clinic_id, payload, deps))
    return enrollment.id, enrollment.created_at


def wait_first_dispatch(supervisor: Supervisor, stop: threading.Event) -> None:
    """Until worker and beat are up: a dispatch run has been recorded in Redis."""
    from worker import wiring

    store = wiring.store()
    deadline = time.monotonic() + READY_TIMEOUT
    while not store.dispatch_info().runs:
        _check_alive(supervisor)
        if stop.is_set():
            return
        if time.monotonic() > deadline:
            raise DemoError(f"worker and beat did not start within {READY_TIMEOUT:.0f} s")
        time.sleep(POLL_INTERVAL)


def _check_alive(supervisor: Supervisor) -> None:
    dead = supervisor.first_dead()
    if dead is not None:
        raise DemoError(f"{dead.name} exited with {dead.process.returncode} (see its log in {supervisor.log_dir})")


def follow(
    eid: str, enrolled: datetime, outbox: Path, supervisor: Supervisor, stop: threading.Event, out: Print
) -> Tally:
    """Print each message as it reaches the outbox until the enrollment completes."""
    from worker import wiring

    store = wiring.store()
    tail, tally = OutboxTail(outbox), Tally()
    enrolled_local = enrolled.astimezone(ZoneInfo(PATIENT["timezone"]))
    deadline = time.monotonic() + DEMO_BOUND
    while not stop.is_set():
        completed = _state(store, eid) is EnrollmentState.COMPLETED
        for record in tail.new_records():
            tally.add(record)
            out(format_message(record, enrolled_local))
        if completed:
            return tally
        _check_alive(supervisor)
        if time.monotonic() > deadline:
            raise DemoError(f"the program did not complete within {DEMO_BOUND:.0f} s")
        time.sleep(POLL_INTERVAL)
    return tally


def _state(store: Any, eid: str) -> EnrollmentState | None:
    enrollment = store.get_enrollment(eid)
    return None if enrollment is None else enrollment.state


def summary(tally: Tally, elapsed: float) -> str:
    counts = ", ".join(f"{n} {channel}" for channel, n in sorted(tally.per_channel.items()))
    worst = max(tally.lateness, default=0.0) / 60
    return (f"Program completed: {sum(tally.per_channel.values())} messages ({counts}) in {elapsed:.1f} s real; "
            f"latest message {worst:.0f} virtual minutes after its due time.")


def intro(var_dir: Path) -> str:
    return "\n".join([
        f"caredrip demo: {PATIENT['first_name']} (a fictional patient) in the {PROGRAM} program, "
        f"{PATIENT['timezone']}, SMS and email.",
        f"  clock x{DEMO_SCALE:,.0f}: {DEMO_DAYS} virtual days in about {DEMO_REAL_SECONDS:.0f} s; "
        "quiet hours and caps apply in virtual time.",
        f"  private Redis, outbox and logs in {var_dir}  (Ctrl-C stops)",
    ])  # fmt: skip


def play(supervisor: Supervisor, stop: threading.Event, outbox: Path, started: float, out: Print) -> None:
    """Once worker and beat tick: enroll the patient and print the program until it completes."""
    wait_first_dispatch(supervisor, stop)
    if stop.is_set():
        out("Stopped.")
        return
    eid, enrolled = enroll_sample()
    tally = follow(eid, enrolled, outbox, supervisor, stop, out)
    out("Stopped." if stop.is_set() else summary(tally, time.monotonic() - started))


def run_demo(settings: Settings, out: Print = print) -> int:
    """The whole demo; 0 when the program completed (or Ctrl-C), 1 when it could not."""
    from worker import wiring

    started = time.monotonic()
    var_dir = prepare_world(settings)
    with stop_requested() as stop:
        redis = ensure_embedded(var_dir, die_with_parent=True)
        try:
            env = demo_environment(var_dir, redis.url)
            os.environ.update(env)
            wiring.reset()
            shared_scaled_clock(wiring.store(), DEMO_SCALE, fresh=True)
            out(intro(var_dir))
            with Supervisor(dict(os.environ), log_dir=var_dir / "logs") as supervisor:
                supervisor.start("worker", celery_worker("intake,dispatch,send,webhooks", 8, name="caredrip-demo"))
                supervisor.start("beat", celery_beat(var_dir / "celerybeat-schedule"))
                play(supervisor, stop, var_dir / "outbox.jsonl", started, out)
        except DemoError as exc:
            print(f"caredrip demo: {exc}", file=sys.stderr)
            return 1
        finally:
            wiring.store().close()
            stop_embedded(var_dir)
    return 0
