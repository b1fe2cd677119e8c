"""The README's FHIR example enrolls as it says."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from starlette.testclient import TestClient

from tests.fhir.conftest import post
from worker.clock import FixedClock

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_careplan_example_enrolls(client: TestClient, clock: FixedClock) -> None:
    clock.set(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))  # the day after the example's consent
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### FHIR R4") :]
    body = re.search(r"-d '(\{\n  \"resourceType\": \"CarePlan\".*?)'\n", section, re.DOTALL)
    assert body is not None
    plan = json.loads(body.group(1))
    made = post(client, "CarePlan", plan, 201).json()
    enrollment = client.get(f"/v1/enrollments/{made['id']}").json()
    assert (enrollment["patient_ref"], enrollment["phone"], enrollment["channels"]) == (
        "MRN-0042",
        "+14155552671",
        ["sms"],
    )
