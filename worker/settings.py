"""Every setting, read from the environment (and `.env`), validated once at start.

The defaults of the sending policy and limits (quiet hours, caps, rates, batch, lease, retention)
come from `worker/config/defaults.toml`; the others are written here. A missing or malformed
setting stops the process with one line naming it: `load_settings()` raises ConfigError, and the
CLI prints that line and exits 2.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import pydantic
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from worker.errors import ConfigError
from worker.policy import Caps, QuietHours, parse_caps, parse_quiet_hours

DEFAULTS_FILE = Path(__file__).parent / "config" / "defaults.toml"


def load_defaults(path: Path = DEFAULTS_FILE) -> dict[str, Any]:
    """The defaults file: environment variable name -> default value."""
    return tomllib.loads(path.read_text(encoding="utf-8"))


_DEFAULT = load_defaults()

# Production refuses secrets that look like the examples' placeholders or are easy to guess.
PLACEHOLDER_WORDS = ("change", "replace", "example", "placeholder", "secret", "password", "your", "xxxx", "todo")
MIN_SECRET_LENGTH = 32
MIN_SECRET_DISTINCT = 10
RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
GENERATE_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class Settings(BaseSettings):
    """The contract's settings; field aliases are the environment variable names."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True, validate_default=True)

    redis_url: str | None = Field(None, alias="REDIS_URL")
    content_dir: Path = Field(Path("content"), alias="CAREDRIP_CONTENT_DIR")
    templates_dir: Path = Field(Path("templates"), alias="CAREDRIP_TEMPLATES_DIR")
    sms_channel: Literal["outbox", "twilio"] = Field("outbox", alias="SMS_CHANNEL")
    email_channel: Literal["outbox", "smtp"] = Field("outbox", alias="EMAIL_CHANNEL")
    twilio_account_sid: str | None = Field(None, alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: str | None = Field(None, alias="TWILIO_AUTH_TOKEN")
    twilio_messaging_service_sid: str | None = Field(None, alias="TWILIO_MESSAGING_SERVICE_SID")
    twilio_from_number: str | None = Field(None, alias="TWILIO_FROM_NUMBER")
    twilio_api_base_url: str | None = Field(None, alias="TWILIO_API_BASE_URL")
    smtp_host: str | None = Field(None, alias="SMTP_HOST")
    smtp_port: int = Field(587, alias="SMTP_PORT", ge=1, le=65535)
    smtp_username: str | None = Field(None, alias="SMTP_USERNAME")
    smtp_password: str | None = Field(None, alias="SMTP_PASSWORD")
    smtp_starttls: bool = Field(True, alias="SMTP_STARTTLS")
    mail_from: str | None = Field(None, alias="MAIL_FROM")
    public_base_url: str = Field("http://localhost:8000", alias="PUBLIC_BASE_URL")
    quiet_hours_raw: str = Field(_DEFAULT["CAREDRIP_QUIET_HOURS"], alias="CAREDRIP_QUIET_HOURS")
    time_scale: float = Field(1.0, alias="CAREDRIP_TIME_SCALE", gt=0, le=10_000_000)
    env: Literal["development", "test", "production"] = Field("development", alias="CAREDRIP_ENV")
    var_dir: Path = Field(Path("var"), alias="CAREDRIP_VAR_DIR")
    caps_raw: str = Field(_DEFAULT["CAREDRIP_CAPS"], alias="CAREDRIP_CAPS")
    sms_rate_per_second: float = Field(_DEFAULT["SMS_RATE_PER_SECOND"], alias="SMS_RATE_PER_SECOND", gt=0)
    email_rate_per_second: float = Field(_DEFAULT["EMAIL_RATE_PER_SECOND"], alias="EMAIL_RATE_PER_SECOND", gt=0)
    send_batch: int = Field(_DEFAULT["CAREDRIP_SEND_BATCH"], alias="CAREDRIP_SEND_BATCH", ge=1, le=1000)
    retention_days: int = Field(_DEFAULT["CAREDRIP_RETENTION_DAYS"], alias="CAREDRIP_RETENTION_DAYS", ge=1)
    secret_key: str | None = Field(None, alias="CAREDRIP_SECRET_KEY", min_length=16)
    data_keys: str | None = Field(None, alias="CAREDRIP_DATA_KEYS")
    lease_seconds: int = Field(_DEFAULT["CAREDRIP_LEASE_SECONDS"], alias="CAREDRIP_LEASE_SECONDS", ge=1, le=800)

    @field_validator("quiet_hours_raw")
    @classmethod
    def _check_quiet_hours(cls, value: str) -> str:
        parse_quiet_hours(value)
        return value

    @field_validator("caps_raw")
    @classmethod
    def _check_caps(cls, value: str) -> str:
        parse_caps(value)
        return value

    @field_validator("data_keys")
    @classmethod
    def _check_data_keys(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            from worker.phi import Keyring  # cryptography: only when keys are given here

            Keyring.from_setting(value)  # ValueError names the key's position, never its text
        return value

    @field_validator("public_base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("expected an http(s) URL, e.g. https://caredrip.example.org")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check_combinations(self) -> Settings:
        if self.env == "production":
            problem = production_problem(self)
            if problem:
                raise ValueError(problem)
        if self.sms_channel == "twilio":
            for name in ("twilio_account_sid", "twilio_auth_token"):
                if not getattr(self, name):
                    raise ValueError(f"{name.upper()}: required when SMS_CHANNEL=twilio")
            if not (self.twilio_messaging_service_sid or self.twilio_from_number):
                raise ValueError(
                    "TWILIO_MESSAGING_SERVICE_SID: or TWILIO_FROM_NUMBER, required when SMS_CHANNEL=twilio"
                )
        if self.email_channel == "smtp":
            for name in ("smtp_host", "mail_from"):
                if not getattr(self, name):
                    raise ValueError(f"{name.upper()}: required when EMAIL_CHANNEL=smtp")
        return self

    @property
    def quiet_hours(self) -> QuietHours:
        return parse_quiet_hours(self.quiet_hours_raw)

    @property
    def caps(self) -> Caps:
        return parse_caps(self.caps_raw)

    @property
    def outbox_path(self) -> Path:
        return self.var_dir / "outbox.jsonl"


def production_problem(s: Settings) -> str | None:
    """`NAME: why` for the first setting production refuses: what is fine on a laptop but unsafe
    (or fake) facing patients and providers; None when there is none."""
    if s.time_scale != 1:
        return "CAREDRIP_TIME_SCALE: a scaled clock is refused in production"
    for name, channel, real in (("SMS_CHANNEL", s.sms_channel, "twilio"), ("EMAIL_CHANNEL", s.email_channel, "smtp")):
        if channel == "outbox":
            return (
                f"{name}: the outbox is refused in production (it keeps patients' contact details and messages"
                f" in plain text under CAREDRIP_VAR_DIR); set {name}={real}"
            )
    if not s.secret_key:
        return "CAREDRIP_SECRET_KEY: required in production"
    weak = weak_secret(s.secret_key)
    if weak:
        return f"CAREDRIP_SECRET_KEY: {weak}; generate one with: {GENERATE_SECRET}"
    base = urlsplit(s.public_base_url)
    host = base.hostname or ""
    if base.scheme != "https" or _is_local_host(host) or _is_reserved_name(host):
        return (
            f"PUBLIC_BASE_URL: {base.scheme}://{host} is refused in production: patients and Twilio must reach"
            " it over https at a public name"
        )
    if (s.smtp_username or s.smtp_password) and not s.smtp_starttls:
        return "SMTP_STARTTLS: SMTP_USERNAME/SMTP_PASSWORD are refused in production without STARTTLS (sent in clear)"
    if s.twilio_api_base_url:
        return "TWILIO_API_BASE_URL: refused in production (it sends SMS to a stand-in instead of Twilio)"
    if not s.data_keys:
        return "CAREDRIP_DATA_KEYS: required in production (the keyring that seals patient data at rest)"
    return None


def weak_secret(key: str) -> str | None:
    """Why `key` is not a production secret (a documented placeholder, too short, too few distinct
    characters), or None."""
    word = placeholder_word(key)
    if word is not None:
        return f"looks like a placeholder (it contains {word!r})"
    if len(key) < MIN_SECRET_LENGTH:
        return f"too short for production ({len(key)} characters, at least {MIN_SECRET_LENGTH})"
    if len(set(key)) < MIN_SECRET_DISTINCT:
        return f"too little entropy ({len(set(key))} distinct characters, at least {MIN_SECRET_DISTINCT})"
    return None


def placeholder_word(value: str) -> str | None:
    """The placeholder word `value` contains (`change`, `example`, ...), or None."""
    lowered = value.lower()
    return next((w for w in PLACEHOLDER_WORDS if w in lowered), None)


def _is_local_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost") or not host:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _is_reserved_name(host: str) -> bool:
    """Names reserved for documentation and tests (RFC 2606, RFC 6761): never a real deployment."""
    labels = host.rstrip(".").split(".")
    return labels[-1] in ("test", "example", "invalid") or ".".join(labels[-2:]) in RESERVED_DOMAINS


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings; raise ConfigError naming the first bad one."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except pydantic.ValidationError as exc:
        raise ConfigError(_first_error_line(exc)) from None


def _first_error_line(exc: pydantic.ValidationError) -> str:
    error = exc.errors()[0]
    loc = error.get("loc") or ()
    name = str(loc[0]) if loc else ""
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if name:
        field = Settings.model_fields.get(name)
        env_name = field.alias if field is not None and field.alias else name
        return f"setting {env_name}: {message}"
    return f"setting {message}"

