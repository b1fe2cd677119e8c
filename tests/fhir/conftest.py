"""FHIR tests share the HTTP API fixtures of tests/api (the app over real engine deps on the session
Redis, a clinic and its key, a second clinic), and load HL7-shaped fixtures from tests/fixtures/fhir."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fhir.resources.R4B import get_fhir_model_class

from tests.api.conftest import (  # noqa: F401
    anon,
    api,
    client,
    clinic,
    clinic_store,
    clock,
    delivery,
    engine,
    other_clinic,
    outbox,
    store,
)

if TYPE_CHECKING:  # imported at run time by tests.api.conftest, which quiets its warning
    from starlette.testclient import TestClient

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fhir"
FHIR_JSON = {"Content-Type": "application/fhir+json"}


@cache
def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def load(name: str) -> dict[str, Any]:
    """A fresh copy of a fixture (tests may change it)."""
    return copy.deepcopy(_fixture(name))


def parses(resource: dict[str, Any]) -> Any:
    """`resource` validated by the R4 (R4B) model of its resourceType; fails the test if it does not parse."""
    return get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def contained(plan: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(r for r in plan["contained"] if r["resourceType"] == kind)


def post(http: TestClient, path: str, resource: Any, status: int | None = None) -> Any:
    """POST `resource` as FHIR JSON; checks the status (when given) and that the answer parses."""
    response = http.post(f"/fhir/r4/{path}", json=resource, headers=FHIR_JSON)
    if status is not None:
        assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    parses(response.json())
    return response


def issue(response: Any) -> dict[str, Any]:
    """The first issue of an OperationOutcome answer (which must parse)."""
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    parses(body)
    return body["issue"][0]  # type: ignore[no-any-return]
