"""docker-compose.yml against the Compose specification's JSON Schema (Docker's engine does not
run here), plus the promises the file makes: AOF on, a threads pool for sends, Flower behind auth."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
import yaml

from tests.ops.conftest import REPO
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
    assert any(v.endswith(":/data") for v in services["redis"]["volumes"])
    send = services["worker-send"]["command"]
    assert send[send.index("-Q") + 1] == "send" and send[send.index("-P") + 1] == "threads"
    assert any(arg.startswith("--basic-auth=${FLOWER_USER") for arg in services["flower"]["command"])
    for name in ("api", "worker-send", "worker-dispatch", "beat", "flower"):
        assert services[name]["env_file"] == ".env"
    for name in ("redis", "api", "worker-send", "worker-dispatch", "mailpit"):
        assert "healthcheck" in services[name], name


def test_env_example_lists_every_setting_and_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (REPO / ".env.example").read_text()
    for field in Settings.model_fields.values():
        assert f"{field.alias}=" in text, f"{field.alias} missing from .env.example"
    for field in Settings.model_fields.values():
        monkeypatch.delenv(str(field.alias), raising=False)
    settings = load_settings(_env_file=str(REPO / ".env.example"))
    assert (settings.email_channel, settings.smtp_host, settings.smtp_port, settings.smtp_starttls) == (
        "smtp", "mailpit", 1025, False)
