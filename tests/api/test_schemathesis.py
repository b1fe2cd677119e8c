"""Property-based run of schemathesis over /openapi.json: no input makes the API answer 5xx.

The schema is loaded from an app made at import (as `uvicorn worker.api:app` is); each test gives
it the test's deps. To get past the first gate of each handler, every case carries a valid clinic
key, about half the cases aim at a real enrollment (and its real unsubscribe token), and webhook
cases are signed as Twilio would sign them, so the fuzzed form fields reach the handlers.
Examples and time are bounded to keep the run short.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from starlette.testclient import TestClient

from tests.api.conftest import BASE_URL, PATIENT_PHONE, TWILIO_TOKEN, enrollment_body, send_due, sign
from worker.api import ApiContext, create_app
from worker.delivery.types import DeliveryDeps
from worker.store import ClinicStore
from worker.tokens import unsubscribe_token

app = create_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
schemathesis.serializer.alias("application/x-ndjson", "text/plain")  # bulk intake's JSON lines: a text body


@pytest.fixture
def wired(delivery: DeliveryDeps, clinic_store: ClinicStore, clinic: tuple[str, str]) -> Iterator[dict[str, str]]:
    """The module's app on this test's deps, with one real enrollment whose welcome was sent:
    its id, unsubscribe token, SMS message id and number, and the clinic's key."""
    engine = delivery.engine
    app.state.ctx = ApiContext(engine, clinic_store, BASE_URL, TWILIO_TOKEN)
    with TestClient(app, headers={"Authorization": f"Bearer {clinic[1]}"}) as c:
        eid = c.post("/v1/enrollments", json=enrollment_body()).json()["id"]
    send_due(delivery)
    token = unsubscribe_token(engine.secret, eid)
    yield {"eid": eid, "token": token, "m": f"{eid}.welcome.sms.1", "From": PATIENT_PHONE, "key": clinic[1]}
    app.state.ctx = ApiContext()


def _coin(value: object) -> bool:
    """A stable half of the generated values (hypothesis still shrinks and replays the same)."""
    return hashlib.sha256(repr(value).encode()).digest()[0] % 2 == 0


def _aim(case: Any, real: dict[str, str]) -> None:
    for name in ("eid", "token"):
        if name in (case.path_parameters or {}) and _coin(case.path_parameters[name]):
            case.path_parameters[name] = real[name]
    if isinstance(case.query, dict) and "m" in case.query and _coin(case.query["m"]):
        case.query["m"] = real["m"]
    if case.path.startswith("/webhooks/") and isinstance(case.body, dict):
        case.body = {str(k): v if isinstance(v, str) else str(v) for k, v in case.body.items()}
        if "From" in case.body and _coin(case.body["From"]):
            case.body["From"] = real["From"]
        query = f"?{urlencode(case.query)}" if case.query else ""
        case.headers = {**(case.headers or {}), "X-Twilio-Signature": sign(case.body, case.path + query)}


@schema.parametrize()
@hypothesis.settings(
    max_examples=30,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_no_input_makes_a_server_error(case: Any, wired: dict[str, str]) -> None:
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {wired['key']}"}
    _aim(case, wired)
    case.call_and_validate(checks=[not_a_server_error])
