"""Property-based run of schemathesis over /openapi.json: no input makes the API answer 5xx.

Every operation gets a valid clinic key, so the authenticated paths are exercised past the 401;
examples and time are bounded to keep the run short. The schema is loaded from an app made at
import (as `uvicorn worker.api:app` is); each test gives it the test's deps.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error

from tests.api.conftest import BASE_URL, TWILIO_TOKEN
from worker.api import ApiContext, create_app
from worker.enrollment import EngineDeps
from worker.store import ClinicStore

app = create_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture
def wired(engine: EngineDeps, clinic_store: ClinicStore) -> Iterator[None]:
    app.state.ctx = ApiContext(engine, clinic_store, BASE_URL, TWILIO_TOKEN)
    yield
    app.state.ctx = ApiContext()


@schema.parametrize()
@hypothesis.settings(
    max_examples=30,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_no_input_makes_a_server_error(case: Any, wired: None, clinic: tuple[str, str]) -> None:
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {clinic[1]}"}
    case.call_and_validate(checks=[not_a_server_error])
