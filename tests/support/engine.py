"""Build real engine deps on a test Redis, and drive dispatch and send through virtual days."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis

from worker.channels.base import Sender
from worker.channels.outbox import OutboxChannel
from worker.clock import Clock, FixedClock
from worker.delivery.dispatch import dispatch_once
from worker.delivery.send import send_batch
from worker.delivery.types import DeliveryDeps
from worker.deps import EngineDeps
from worker.enrollment import NewEnrollment
from worker.phi import IndexKey, Keyring
from worker.policy import parse_caps, parse_quiet_hours
from worker.programs import ProgramCatalog
from worker.records import from_epoch_ms
from worker.render import Renderer
from worker.store import Store
from worker.store.keys import due_key

ROOT = Path(__file__).resolve().parents[2]
SECRET = b"test-secret-0123456789abcdef"
# One keyring for the whole test run: subprocess workers get it as CAREDRIP_DATA_KEYS.
KEYRING = Keyring.generate()
DATA_KEYS = KEYRING.to_setting()
INDEX = IndexKey.from_secret(SECRET)
CLINIC = {"name": "Riverside Family Clinic", "phone": "+1 555 010 2345"}


def make_deps(
    url: str,
    outbox: Path,
    *,
    clock: Clock | None = None,
    channels: dict[str, Sender] | None = None,
    rate: float = 100_000.0,
    sleep: Callable[[float], None] | None = None,
    caps: str = "sms:1/day,3/week",
    lease_seconds: int = 300,
) -> DeliveryDeps:
    store = make_store(url)
    engine = EngineDeps(
        clock=clock or FixedClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC)),
        store=store,
        catalog=ProgramCatalog(ROOT / "content"),
        quiet=parse_quiet_hours("21:00-08:00"),
        secret=SECRET,
        keyring=KEYRING,
        index=INDEX,
    )
    return DeliveryDeps(
        engine=engine,
        renderer=Renderer(ROOT / "templates"),
        channels=channels or {"sms": OutboxChannel("sms", outbox), "email": OutboxChannel("email", outbox)},
        caps=parse_caps(caps),
        public_base_url="http://testserver",
        rate_per_second={"sms": rate, "email": rate},
        sleep=sleep or (lambda _s: None),
        jitter=lambda: 0.5,
        clinics=lambda _cid: CLINIC,
        lease_seconds=lease_seconds,
    )


def make_store(url: str) -> Store:
    """A store on `url` with the test run's keyring and index key (those of `make_deps`)."""
    return Store(redis.Redis.from_url(url, decode_responses=True), KEYRING, INDEX)


def new_enrollment(ref: str = "p-1", **overrides: Any) -> NewEnrollment:
    fields: dict[str, Any] = dict(
        clinic_id="c_test",
        patient_ref=ref,
        program="twitching",
        first_name="Ana",
        channels=("sms", "email"),
        language="en",
        timezone="America/New_York",
        phone="+14155552671",
        email="ana@example.com",
        consent={"sms": datetime(2026, 1, 1, tzinfo=UTC), "email": datetime(2026, 1, 1, tzinfo=UTC)},
    )
    fields.update(overrides)
    return NewEnrollment(**fields)


def send_inline(deps: DeliveryDeps) -> Callable[[str, list[str]], None]:
    """An enqueue that sends at once in this process (no Celery): for time-travel tests."""

    def enqueue(channel: str, eids: list[str]) -> None:
        send_batch(deps, channel, eids)

    return enqueue


def next_due(deps: DeliveryDeps) -> datetime | None:
    client = deps.engine.store.redis
    scores = [client.zrange(due_key(ch), 0, 0, withscores=True) for ch in deps.channels]
    firsts = [from_epoch_ms(float(s[0][1])) for s in scores if s]
    return min(firsts) if firsts else None


def run_until_idle(deps: DeliveryDeps, *, until: datetime | None = None, max_ticks: int = 2000) -> int:
    """Jump the fixed clock from one due instant to the next, dispatching and sending each time."""
    clock = deps.engine.clock
    assert isinstance(clock, FixedClock)
    ticks = 0
    while ticks < max_ticks:
        ticks += 1
        dispatch_once(deps, send_inline(deps))
        upcoming = next_due(deps)
        if upcoming is None or (until is not None and upcoming > until):
            return ticks
        clock.set(max(upcoming, clock.now() + timedelta(milliseconds=1)))
    raise AssertionError("did not go idle")


def outbox_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
