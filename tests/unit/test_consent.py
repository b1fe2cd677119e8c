"""Consent in the enrollment models: JSON booleans only, never a string or a number read as true."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from worker.intake import Consent, EnrollmentBody, EnrollmentPatch

RECORDED = "2026-01-01T00:00:00Z"
BODY = {"patient_ref": "p-1", "program": "twitching", "first_name": "Ana", "phone": "+14155552671",
        "channels": ["sms"], "timezone": "America/New_York"}  # fmt: skip


@pytest.mark.parametrize("value", ["yes", "true", "True", "1", 1, 1.0, "on", [True], {"value": True}])
@pytest.mark.parametrize("channel", ["sms", "email"])
def test_consent_flag_must_be_a_json_boolean(channel: str, value: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        Consent.model_validate({channel: value, "recorded_at": RECORDED})
    assert [error["loc"] for error in refused.value.errors()] == [(channel,)]


@pytest.mark.parametrize("value", ["yes", 1, "true"])
def test_enrollment_and_patch_name_the_consent_field(value: Any) -> None:
    consent = {"sms": value, "email": True, "recorded_at": RECORDED}
    with pytest.raises(ValidationError) as body:
        EnrollmentBody.model_validate({**BODY, "consent": consent})
    assert body.value.errors()[0]["loc"] == ("consent", "sms")
    with pytest.raises(ValidationError) as patch:
        EnrollmentPatch.model_validate({"consent": consent})
    assert patch.value.errors()[0]["loc"] == ("consent", "sms")


def test_json_booleans_pass() -> None:
    assert EnrollmentBody.model_validate({**BODY, "consent": {"sms": True, "recorded_at": RECORDED}}).consent.sms
    consent = Consent.model_validate_json(f'{{"sms": true, "email": false, "recorded_at": "{RECORDED}"}}')
    assert (consent.sms, consent.email) == (True, False)
    assert Consent.model_validate({"recorded_at": RECORDED}).sms is False
