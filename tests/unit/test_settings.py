"""Settings: DESIGN's defaults exactly, and one line naming the variable for anything malformed."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from worker.errors import ConfigError
from worker.phi import Keyring
from worker.policy import Caps, QuietHours
from worker.settings import DEFAULTS_FILE, Settings, load_defaults, load_settings

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
    "CAREDRIP_SECRET_KEY": "q7Vd2kR9xL0pZs4mWn8bTe1yHc6uJf3a",
    "PUBLIC_BASE_URL": "https://care.riverside-clinic.org",
    "CAREDRIP_DATA_KEYS": Keyring.generate().to_setting(),
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
    refusal = rf"^setting {channel}: the outbox is refused in production .*; set {channel}="
    with pytest.raises(ConfigError, match=refusal):
        load_settings()


def test_production_with_real_channels_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    setenv(monkeypatch, PRODUCTION_READY)
    assert load_settings().env == "production"


@pytest.mark.parametrize(
    "key",
    [
        "change-me-to-a-long-random-string",  # the value the env examples used to suggest
        "replace-with-32-random-characters-or-more",
        "s" * 32,  # long, but one character
        "abcabcabcabcabcabcabcabcabcabcabcabc",  # long, three characters
        "Zx9!kq2LmP0vR7wYt5Ea",  # random-looking, but short
    ],
)
def test_production_refuses_a_placeholder_or_weak_secret_key(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    setenv(monkeypatch, {**PRODUCTION_READY, "CAREDRIP_SECRET_KEY": key})
    with pytest.raises(ConfigError, match=r"^setting CAREDRIP_SECRET_KEY: .*secrets\.token_urlsafe") as caught:
        load_settings()
    assert "\n" not in str(caught.value) and key not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8000",  # the default
        "http://caredrip.example.org",
        "https://localhost",
        "https://app.localhost",
        "https://127.0.0.1:8443",
        "https://[::1]",
        "https://0.0.0.0",
        "https://caredrip.example.org",  # names reserved for documentation and tests
        "https://caredrip.test",
        "http://admin:hunter2@caredrip.riverside-clinic.org",
    ],
)
def test_production_refuses_a_local_or_plain_http_base_url(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    setenv(monkeypatch, {**PRODUCTION_READY, "PUBLIC_BASE_URL": url})
    with pytest.raises(ConfigError, match=r"^setting PUBLIC_BASE_URL: .* refused in production") as caught:
        load_settings()
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("credential", ["SMTP_USERNAME", "SMTP_PASSWORD"])
def test_production_refuses_smtp_credentials_without_starttls(monkeypatch: pytest.MonkeyPatch, credential: str) -> None:
    setenv(monkeypatch, {**PRODUCTION_READY, credential: "mailer", "SMTP_STARTTLS": "false"})
    with pytest.raises(ConfigError, match=r"^setting SMTP_STARTTLS: .*without STARTTLS"):
        load_settings()
    monkeypatch.setenv("SMTP_STARTTLS", "true")
    assert load_settings().smtp_starttls


def test_production_refuses_a_twilio_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    setenv(monkeypatch, {**PRODUCTION_READY, "TWILIO_API_BASE_URL": "http://127.0.0.1:8099"})
    with pytest.raises(ConfigError, match=r"^setting TWILIO_API_BASE_URL: refused in production"):
        load_settings()


def test_development_keeps_what_production_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    """A laptop or a test stand-in may use what production refuses."""
    setenv(
        monkeypatch,
        {
            **PRODUCTION_READY,
            "CAREDRIP_ENV": "development",
            "CAREDRIP_SECRET_KEY": "s" * 16,
            "PUBLIC_BASE_URL": "http://localhost:8000",
            "SMTP_USERNAME": "mailer",
            "SMTP_STARTTLS": "false",
            "TWILIO_API_BASE_URL": "http://127.0.0.1:8099",
        },
    )
    assert load_settings().env == "development"


def test_defaults_file_gives_the_policy_defaults() -> None:
    """worker/config/defaults.toml holds the defaults of settings named by their variables."""
    assert DEFAULTS_FILE.is_file()
    defaults = load_defaults()
    fields = {field.alias: field for field in Settings.model_fields.values()}
    assert {"CAREDRIP_QUIET_HOURS", "CAREDRIP_CAPS", "SMS_RATE_PER_SECOND", "EMAIL_RATE_PER_SECOND"} <= set(defaults)
    for name, value in defaults.items():
        assert name in fields, f"{name} in {DEFAULTS_FILE.name} is no setting"
        assert fields[name].default == value


def test_defaults_file_is_validated_like_the_environment() -> None:
    """A malformed value in defaults.toml stops the process at start like a malformed variable."""
    assert Settings.model_config.get("validate_default") is True


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


def test_production_requires_the_data_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    setenv(monkeypatch, {**PRODUCTION_READY, "CAREDRIP_DATA_KEYS": ""})
    with pytest.raises(ConfigError, match=r"^setting CAREDRIP_DATA_KEYS: required in production"):
        load_settings()


def test_a_malformed_data_keyring_is_refused_naming_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    good = Keyring.generate().to_setting()
    setenv(monkeypatch, {"CAREDRIP_DATA_KEYS": f"{good},not-a-key"})
    with pytest.raises(ConfigError, match=r"^setting CAREDRIP_DATA_KEYS: .*key 2"):
        load_settings()
