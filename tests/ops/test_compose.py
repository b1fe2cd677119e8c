"""docker-compose.yml against the Compose specification's JSON Schema (Docker's engine does not
run here), plus the promises the file makes: AOF on, a threads pool for sends, Flower behind a real
password and Mailpit in the dev profile, both on the host's loopback only, no access log; and the
env examples in config/, one per deployment shape."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.ops.conftest import REPO
from worker import flower
from worker.errors import ConfigError
from worker.phi import Keyring
from worker.redis_process import HASH_MAX_VALUE
from worker.settings import Settings, load_settings

SCHEMA = REPO / "tests" / "fixtures" / "compose" / "compose-spec.json"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


def test_compose_file_is_valid(schema: dict[str, Any], compose: dict[str, Any]) -> None:
    validator = jsonschema.Draft7Validator(schema)
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert not errors, errors


def test_schema_catches_a_broken_file(schema: dict[str, Any], compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["api"]["healthcheck"]["intervall"] = "10s"
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_compose_services_keep_their_promises(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"redis", "api", "worker-send", "worker-dispatch", "beat", "flower", "mailpit"} <= services.keys()
    redis_command = services["redis"]["command"]
    assert redis_command[redis_command.index("--appendonly") + 1] == "yes"
    assert redis_command[redis_command.index("--hash-max-ziplist-value") + 1] == str(HASH_MAX_VALUE)
    assert any(v.endswith(":/data") for v in services["redis"]["volumes"])
    send = services["worker-send"]["command"]
    assert send[send.index("-Q") + 1] == "send,webhooks" and send[send.index("-P") + 1] == "threads"
    for name in ("api", "worker-send", "worker-dispatch", "beat", "flower"):
        assert services[name]["env_file"] == ENV_FILES, name
        assert services[name]["environment"]["REDIS_URL"] == "redis://redis:6379/0", name
    for name in ("redis", "api", "worker-send", "worker-dispatch", "mailpit"):
        assert "healthcheck" in services[name], name


ENV_FILES: list[dict[str, Any]] = [{"path": "config/compose.env"}, {"path": ".env", "required": False}]


def test_env_files_of_compose_exist_in_the_checkout(compose: dict[str, Any]) -> None:
    """Compose reads the repository's config/compose.env, then the operator's optional .env."""
    for entry in ENV_FILES:
        if entry.get("required", True):
            assert (REPO / entry["path"]).is_file(), entry["path"]


def test_flower_and_mailpit_answer_on_loopback_only(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("flower", "mailpit"):
        ports = services[name]["ports"]
        assert ports and all(str(p).startswith("127.0.0.1:") for p in ports), (name, ports)


def test_mailpit_runs_only_in_the_dev_profile(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["mailpit"]["profiles"] == ["dev"]
    assert [name for name, svc in services.items() if "profiles" in svc] == ["mailpit"]


def test_flower_starts_through_the_password_check(compose: dict[str, Any]) -> None:
    flower = compose["services"]["flower"]
    assert flower["command"][:3] == ["python", "-m", "worker.flower"]
    assert not any("basic-auth" in arg or "FLOWER" in arg for arg in flower["command"])  # no password in argv
    assert flower["environment"]["FLOWER_BASIC_AUTH"].startswith("${FLOWER_BASIC_AUTH:?")


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "operator:change-me",  # the placeholder the examples carried
        "operator:" + "x" * 20,
        "admin:CorrectHorse9,operator:example-password-1",
        "operator:Sh0rt!",
        "operator",
    ],
)
def test_flower_check_refuses_a_missing_placeholder_or_short_password(tmp_path: Path, value: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FLOWER_BASIC_AUTH"}
    if value is not None:
        env["FLOWER_BASIC_AUTH"] = value
    done = subprocess.run(
        [sys.executable, "-m", "worker.flower", "--port=5555"], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("setting FLOWER_BASIC_AUTH: ") and done.stderr.count("\n") == 1
    password = (value or "").partition(":")[2]
    assert not password or password not in done.stderr


def test_flower_check_hands_over_to_flower(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWER_BASIC_AUTH", "operator:vQ4-tz8Lw2Rk9mXp")
    started: list[list[str]] = []
    flower.main(["--address=0.0.0.0", "--port=5555"], execv=lambda _path, argv: started.append(argv))
    assert started == [
        [sys.executable, "-m", "celery", "-A", "worker.celery_app", "flower", "--address=0.0.0.0", "--port=5555"]
    ]


def test_no_uvicorn_access_log_in_the_image_or_compose(compose: dict[str, Any]) -> None:
    """Request lines would carry /unsubscribe/ tokens: the access log is off wherever uvicorn runs."""
    assert "--no-access-log" in compose["services"]["api"]["command"]
    cmd = next(line for line in (REPO / "Dockerfile").read_text().splitlines() if line.startswith("CMD "))
    assert json.loads(cmd.removeprefix("CMD "))[:2] == ["uvicorn", "worker.api:app"]
    assert "--no-access-log" in json.loads(cmd.removeprefix("CMD "))


# --- config/: one env example per deployment shape ------------------------------------------

CONFIG = REPO / "config"
SHAPES = ("laptop.env", "compose.env", "production.env")
NOT_CAREDRIP = {"FLOWER_BASIC_AUTH"}  # read by Flower (through worker.flower), not by caredrip


def _names(path: Path) -> set[str]:
    found = re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return set(found)


@pytest.fixture
def no_settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for field in Settings.model_fields.values():
        monkeypatch.delenv(str(field.alias), raising=False)
    monkeypatch.chdir(tmp_path)


def test_each_shape_has_its_env_file_named_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for shape in SHAPES:
        assert (CONFIG / shape).is_file(), shape
        assert f"config/{shape}" in readme, f"README does not name config/{shape}"
    assert not (REPO / ".env.example").exists()  # one place for examples: config/


def test_env_files_name_only_real_settings() -> None:
    settings = {str(field.alias) for field in Settings.model_fields.values()}
    for shape in SHAPES:
        unknown = _names(CONFIG / shape) - settings - NOT_CAREDRIP
        assert not unknown, f"config/{shape} names {sorted(unknown)}, which nothing reads"
    assert _names(CONFIG / "laptop.env") >= settings, "config/laptop.env lists every setting"


def test_laptop_env_is_the_defaults(no_settings_env: None) -> None:
    assert load_settings(_env_file=str(CONFIG / "laptop.env")) == load_settings()


def test_compose_env_loads_with_mailpit(no_settings_env: None) -> None:
    settings = load_settings(_env_file=str(CONFIG / "compose.env"))
    assert (settings.email_channel, settings.smtp_host, settings.smtp_port, settings.smtp_starttls) == (
        "smtp", "mailpit", 1025, False)


def test_production_env_is_refused_until_filled_in(no_settings_env: None, tmp_path: Path) -> None:
    example = (CONFIG / "production.env").read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^setting CAREDRIP_SECRET_KEY: looks like a placeholder"):
        load_settings(_env_file=str(CONFIG / "production.env"))
    filled = {
        "CAREDRIP_SECRET_KEY": "Jd8s0-Qx3LrT9vYk2WnBz7HcP4uMe6Fa",
        "PUBLIC_BASE_URL": "https://care.riverside-clinic.org",
        "TWILIO_ACCOUNT_SID": "AC" + "0123456789abcdef" * 2,
        "TWILIO_AUTH_TOKEN": "0123456789abcdef0123456789abcdef",
        "TWILIO_MESSAGING_SERVICE_SID": "MG" + "0123456789abcdef" * 2,
        "SMTP_HOST": "smtp.riverside-clinic.org",
        "SMTP_USERNAME": "caredrip",
        "SMTP_PASSWORD": "Vd9-pq2Lm8Rt4Zx7",
        "MAIL_FROM": "care@riverside-clinic.org",
        "CAREDRIP_DATA_KEYS": Keyring.generate().to_setting(),
    }
    steps = [
        ("CAREDRIP_SECRET_KEY", "PUBLIC_BASE_URL"),
        ("PUBLIC_BASE_URL", "CAREDRIP_DATA_KEYS"),
        ("CAREDRIP_DATA_KEYS", "TWILIO_ACCOUNT_SID"),
    ]
    for given, refused_next in steps:
        example = re.sub(rf"^{given}=.*$", f"{given}={filled[given]}", example, flags=re.MULTILINE)
        path = tmp_path / "production.env"
        path.write_text(example, encoding="utf-8")
        with pytest.raises(ConfigError, match=rf"^setting {refused_next}: "):
            load_settings(_env_file=str(path))
    for name, value in filled.items():
        example = re.sub(rf"^{name}=.*$", f"{name}={value}", example, flags=re.MULTILINE)
    path.write_text(example, encoding="utf-8")
    settings = load_settings(_env_file=str(path))
    assert (settings.env, settings.sms_channel, settings.email_channel, settings.smtp_starttls) == (
        "production", "twilio", "smtp", True)
    assert "FLOWER_BASIC_AUTH=operator:change-me" in example  # refused by worker.flower, tested above
