"""Small helpers for the trust suite: signed inbound SMS with fresh MessageSids, a second clinic's client."""

from __future__ import annotations

import itertools
from typing import Any

from starlette.testclient import TestClient

from tests.api.conftest import BASE_URL, PATIENT_PHONE, twilio_post

INBOUND = "/webhooks/twilio/inbound"
_sids = itertools.count(1)


def inbound(anon: TestClient, body: str, sender: str = PATIENT_PHONE, sid: str | None = None) -> Any:
    """POST a signed inbound SMS, each with its own MessageSid unless `sid` is given."""
    params = {"From": sender, "To": "+14155550199", "Body": body, "MessageSid": sid or f"SM{next(_sids):032d}"}
    return twilio_post(anon, INBOUND, params)


def as_clinic(api: Any, key: str) -> TestClient:
    return TestClient(api, base_url=BASE_URL, headers={"Authorization": f"Bearer {key}"})
