"""Fixtures for the trust suite: the API fixtures, with messages rendered for the real clinic."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.api.conftest as api_fixtures
from tests.support.engine import make_deps
from worker.delivery.types import DeliveryDeps
from worker.store import ClinicStore

# The API suite's fixtures, shared here by name.
anon = api_fixtures.anon
api = api_fixtures.api
clinic = api_fixtures.clinic
clinic_store = api_fixtures.clinic_store
client = api_fixtures.client
clock = api_fixtures.clock
engine = api_fixtures.engine
enrolled = api_fixtures.enrolled
other_clinic = api_fixtures.other_clinic
outbox = api_fixtures.outbox
store = api_fixtures.store


@pytest.fixture
def delivery(redis_url: str, tmp_path: Path, clinic_store: ClinicStore) -> Iterator[DeliveryDeps]:
    """Real delivery deps whose messages name the clinic that enrolled the patient."""
    deps = make_deps(redis_url, tmp_path / "outbox.jsonl")
    yield dataclasses.replace(deps, clinics=clinic_store.get)
