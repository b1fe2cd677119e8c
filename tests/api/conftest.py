"""Fixtures for the HTTP API: the app over real engine deps on the session Redis, a clinic and its key."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi import FastAPI
from twilio.request_validator import RequestValidator

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its TestClient and warns when it finds httpx; httpx works.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient

from tests.support.engine import make_deps
from worker.api import create_app
from worker.clinics import add_clinic
from worker.clock import FixedClock
from worker.delivery.dispatch import dispatch_once
from worker.delivery.send import send_batch
from worker.delivery.types import DeliveryDeps
from worker.deps import EngineDeps
from worker.store import ClinicStore, Store

BASE_URL = "http://testserver"
TWILIO_TOKEN = "twilio-test-auth-token-0123456789"
CLINIC_NAME = "Riverside Family Clinic"
CLINIC_PHONE = "+14155550100"
PATIENT_PHONE = "+14155552671"


def enrollment_body(**overrides: Any) -> dict[str, Any]:
    """A valid POST /v1/enrollments body; keyword overrides replace fields (None removes one)."""
    body: dict[str, Any] = {
        "patient_ref": "p-1",
        "program": "twitching",
        "first_name": "Ana",
        "phone": PATIENT_PHONE,
        "email": "ana@example.com",
        "channels": ["sms", "email"],
        "language": "en",
        "timezone": "America/New_York",
        "consent": {"sms": True, "email": True, "recorded_at": "2026-01-01T00:00:00Z"},
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def sign(params: dict[str, str], path: str, token: str = TWILIO_TOKEN, base: str = BASE_URL) -> str:
    return RequestValidator(token).compute_signature(base + path, params)  # type: ignore[no-any-return]


def twilio_post(client: TestClient, path: str, params: dict[str, str], **sign_kw: Any) -> Any:
    """POST form `params` to `path` (with its query) signed as Twilio would."""
    return client.post(path, data=params, headers={"X-Twilio-Signature": sign(params, path, **sign_kw)})


def send_due(delivery: DeliveryDeps) -> int:
    """One dispatch tick that sends what it claims at once, in this process (no Celery)."""

    def send_now(channel: str, eids: list[str]) -> None:
        send_batch(delivery, channel, eids)

    return dispatch_once(delivery, send_now)


@pytest.fixture
def delivery(redis_url: str, tmp_path: Path) -> Iterator[DeliveryDeps]:
    """Real delivery deps (outbox channels, fixed clock at 10:00 in New York) on the emptied Redis."""
    deps = make_deps(redis_url, tmp_path / "outbox.jsonl")
    yield deps
    deps.engine.store.redis.close()


@pytest.fixture
def engine(delivery: DeliveryDeps) -> EngineDeps:
    return delivery.engine


@pytest.fixture
def store(engine: EngineDeps) -> Store:
    return engine.store


@pytest.fixture
def clock(engine: EngineDeps) -> FixedClock:
    assert isinstance(engine.clock, FixedClock)
    return engine.clock


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox.jsonl"


@pytest.fixture
def clinic_store(redis_url: str) -> Iterator[ClinicStore]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield ClinicStore(client)
    client.close()


@pytest.fixture
def clinic(clinic_store: ClinicStore, clock: FixedClock) -> tuple[str, str]:
    """(clinic id, key) of the clinic the tests act as."""
    return add_clinic(clinic_store, CLINIC_NAME, CLINIC_PHONE, "front@riverside.example", clock.now())


@pytest.fixture
def other_clinic(clinic_store: ClinicStore, clock: FixedClock) -> tuple[str, str]:
    return add_clinic(clinic_store, "Hillside Clinic", None, None, clock.now())


@pytest.fixture
def api(engine: EngineDeps, clinic_store: ClinicStore) -> FastAPI:
    return create_app(engine, clinic_store, public_base_url=BASE_URL, twilio_auth_token=TWILIO_TOKEN)


@pytest.fixture
def client(api: FastAPI, clinic: tuple[str, str]) -> Iterator[TestClient]:
    """An HTTP client on the app, authenticated as `clinic`."""
    with TestClient(api, base_url=BASE_URL, headers={"Authorization": f"Bearer {clinic[1]}"}) as c:
        yield c


@pytest.fixture
def anon(api: FastAPI) -> Iterator[TestClient]:
    """An HTTP client on the app without a clinic key (Twilio, patients, Prometheus)."""
    with TestClient(api, base_url=BASE_URL) as c:
        yield c


@pytest.fixture
def enrolled(client: TestClient) -> dict[str, Any]:
    """One enrollment (SMS and email) made through the API."""
    response = client.post("/v1/enrollments", json=enrollment_body())
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]
