"""Fixtures for the console: the API app with its console over real deps on the session Redis, a
clinic, another clinic, an operator, a signed-in HTTP client, and helpers to read pages."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi import FastAPI

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient

from tests.support.engine import make_deps, new_enrollment, run_until_idle
from worker.api import create_app
from worker.clinics import add_clinic
from worker.clock import FixedClock
from worker.console import ConsoleDeps
from worker.console.operators import add_operator
from worker.delivery.types import DeliveryDeps
from worker.deps import EngineDeps
from worker.enrollment import enroll
from worker.records import Enrollment
from worker.store import ClinicStore, ConsoleStore

BASE_URL = "http://testserver"
ROOT = Path(__file__).resolve().parents[2]
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, secret: str) -> Any:
    """Sign in through the form as a browser would; the answer to the POST (not followed)."""
    form = client.get("/console/signin")
    assert form.status_code == 200
    return client.post("/console/signin", data={"csrf": csrf_of(form.text), "token": secret}, follow_redirects=False)


def stamp_unknown(delivery: DeliveryDeps, enrollment: Enrollment) -> str:
    """Leave the enrollment's welcome SMS in state `unknown` (a send cut off after "sending")."""
    store, clock = delivery.engine.store, delivery.engine.clock
    assert isinstance(clock, FixedClock)
    mid = f"{enrollment.id}.welcome.sms.1"
    store.begin_send(mid, cursor=0, now=clock.now(), stale_s=60)
    clock.advance(timedelta(minutes=2))
    run_until_idle(delivery, until=clock.now())
    return mid


@pytest.fixture
def delivery(redis_url: str, tmp_path: Path) -> Iterator[DeliveryDeps]:
    """Real delivery deps (outbox channels, fixed clock at 10:00 in New York) on the emptied Redis."""
    deps = make_deps(redis_url, tmp_path / "outbox.jsonl", lease_seconds=60)
    yield deps
    deps.engine.store.redis.close()


@pytest.fixture
def engine(delivery: DeliveryDeps) -> EngineDeps:
    return delivery.engine


@pytest.fixture
def clinic_store(redis_url: str) -> Iterator[ClinicStore]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield ClinicStore(client)
    client.close()


@pytest.fixture
def console_store(clinic_store: ClinicStore) -> ConsoleStore:
    return ConsoleStore(clinic_store.redis)


@pytest.fixture
def clinic(clinic_store: ClinicStore, engine: EngineDeps) -> tuple[str, str]:
    """(clinic id, key)."""
    return add_clinic(clinic_store, "Riverside Family Clinic", "+14155550100", None, engine.clock.now())


@pytest.fixture
def other_clinic(clinic_store: ClinicStore, engine: EngineDeps) -> tuple[str, str]:
    return add_clinic(clinic_store, "Hillside Clinic", None, None, engine.clock.now())


@pytest.fixture
def operator(console_store: ConsoleStore, engine: EngineDeps) -> tuple[str, str]:
    """(operator id, token)."""
    return add_operator(console_store, "Dana Ops", engine.clock.now())


def console_app(engine: EngineDeps, clinic_store: ClinicStore, delivery: DeliveryDeps, **console: Any) -> FastAPI:
    deps = ConsoleDeps(delivery=delivery, ping_workers=lambda: [], content_dir=ROOT / "content",
                       templates_dir=ROOT / "templates", **{"secure_cookie": False, **console})  # fmt: skip
    return create_app(engine, clinic_store, public_base_url=BASE_URL, twilio_auth_token="t" * 32, console_deps=deps,
                      caps=delivery.caps)  # fmt: skip


@pytest.fixture
def app(engine: EngineDeps, clinic_store: ClinicStore, delivery: DeliveryDeps) -> FastAPI:
    return console_app(engine, clinic_store, delivery)


@pytest.fixture
def browser_client(app: FastAPI) -> Iterator[TestClient]:
    """A client with no session (a browser that has not signed in)."""
    with TestClient(app, base_url=BASE_URL) as c:
        yield c


@pytest.fixture
def as_clinic(app: FastAPI, clinic: tuple[str, str]) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL) as c:
        assert sign_in(c, clinic[1]).status_code == 303
        yield c


@pytest.fixture
def as_operator(app: FastAPI, operator: tuple[str, str]) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL) as c:
        assert sign_in(c, operator[1]).status_code == 303
        yield c


@pytest.fixture
def patient(engine: EngineDeps, clinic: tuple[str, str]) -> Enrollment:
    """An SMS + email patient of `clinic` (patient_ref MRN-0042), enrolled at 10:00 in New York."""
    enrollment, _ = enroll(engine, new_enrollment("MRN-0042", clinic_id=clinic[0]))
    return enrollment
