"""Settings: DESIGN's defaults exactly, and one line naming the variable for anything malformed."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from worker.errors import ConfigError
from worker.policy import Caps, QuietHours
from worker.settings import Settings, load_settings

ENV_NAMES = [field.alias for field in Settings.model_fields.values() if field.alias]
PRODUCTION_READY = {
    "CAREDRIP_ENV": "production",
    "SMS_CHANNEL": "twilio",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "token",
    "TWILIO_FROM_NUMBER": "+15005550006",
    "EMAIL_CHANNEL": "smtp",
    "SMTP_HOST": "127.0.0.1",
    "MAIL_FROM": "clinic@example.org",
    "CAREDRIP_SECRET_KEY": "s" * 32,
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No caredrip variable from the outside, and no `.env` file to read."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def setenv(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_defaults_match_the_design_table() -> None:
    s = load_settings()
    assert s.redis_url is None
    assert s.content_dir == Path("content")
    assert s.templates_dir == Path("templates")
    assert s.sms_channel == "outbox"
    assert s.email_channel == "outbox"
    assert s.twilio_account_sid is None and s.twilio_auth_token is None
    assert s.twilio_messaging_service_sid is None and s.twilio_from_number is None
    assert s.twilio_api_base_url is None
    assert s.smtp_host is None and s.mail_from is None
    assert s.public_base_url == "http://localhost:8000"
    assert s.quiet_hours_raw == "21:00-08:00"
    assert s.quiet_hours == QuietHours(time(21, 0), time(8, 0))
    assert s.time_scale == 1
    assert s.env == "development"
    assert s.var_dir == Path("var")
    assert s.outbox_path == Path("var") / "outbox.jsonl"
    assert s.caps_raw == "sms:1/day,3/week"
    assert s.caps == Caps({"sms": 1}, {"sms": 3})
    assert s.sms_rate_per_second == 10
    assert s.email_rate_per_second == 10
    assert s.send_batch == 100
    assert s.retention_days == 400


def test_environment_and_dotenv_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CAREDRIP_QUIET_HOURS=22:00-07:30\nCAREDRIP_SEND_BATCH=7\n", encoding="utf-8")
    monkeypatch.setenv("CAREDRIP_SEND_BATCH", "9")
    s = load_settings()
    assert s.quiet_hours == QuietHours(time(22, 0), time(7, 30))
    assert s.send_batch == 9  # the environment wins over .env


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CAREDRIP_QUIET_HOURS", "9pm-8am"),
        ("CAREDRIP_QUIET_HOURS", "21:00-25:00"),
        ("CAREDRIP_CAPS", "sms:1/month"),
        ("CAREDRIP_CAPS", "fax:1/day"),
        ("CAREDRIP_TIME_SCALE", "fast"),
        ("CAREDRIP_TIME_SCALE", "0"),
        ("SMS_CHANNEL", "pigeon"),
        ("EMAIL_CHANNEL", "fax"),
        ("CAREDRIP_ENV", "staging"),
        ("CAREDRIP_SEND_BATCH", "0"),
        ("PUBLIC_BASE_URL", "localhost:8000"),
        ("SMTP_PORT", "70000"),
    ],
)
def test_malformed_setting_gives_one_line_naming_it(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"setting {name}: ")


def test_production_refuses_a_time_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    setenv(monkeypatch, {**PRODUCTION_READY, "CAREDRIP_TIME_SCALE": "86400"})
    with pytest.raises(ConfigError, match=r"^setting CAREDRIP_TIME_SCALE: .*refused in production$"):
        load_settings()


@pytest.mark.parametrize("channel", ["SMS_CHANNEL", "EMAIL_CHANNEL"])
def test_production_refuses_the_outbox(monkeypatch: pytest.MonkeyPatch, channel: str) -> None:
    setenv(monkeypatch, {**PRODUCTION_READY, channel: "outbox"})
    with pytest.raises(ConfigError, match=r"^setting SMS_CHANNEL/EMAIL_CHANNEL: outbox channels are refused"):
        load_settings()


def test_production_with_real_channels_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    setenv(monkeypatch, PRODUCTION_READY)
    assert load_settings().env == "production"


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("TWILIO_AUTH_TOKEN", "TWILIO_AUTH_TOKEN"),
        ("TWILIO_FROM_NUMBER", "TWILIO_MESSAGING_SERVICE_SID"),
        ("SMTP_HOST", "SMTP_HOST"),
        ("CAREDRIP_SECRET_KEY", "CAREDRIP_SECRET_KEY"),
    ],
)
def test_real_channels_need_their_credentials(monkeypatch: pytest.MonkeyPatch, missing: str, named: str) -> None:
    setenv(monkeypatch, {k: v for k, v in PRODUCTION_READY.items() if k != missing})
    with pytest.raises(ConfigError, match=rf"^setting {named}: "):
        load_settings()
