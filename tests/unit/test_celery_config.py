"""worker/config/celery.toml: the Celery settings as data, each with its reason, loaded as they are."""

from __future__ import annotations

import tomllib

from worker.celery_app import CELERY_CONFIG, app, load_celery_config


def test_every_setting_comes_with_its_reason() -> None:
    """Each group of settings (lines between blank lines) starts with a comment saying why."""
    blocks = [b.strip().splitlines() for b in CELERY_CONFIG.read_text(encoding="utf-8").split("\n\n")]
    settings = [b for b in blocks if any(not line.startswith("#") for line in b)]
    assert settings
    for block in settings:
        assert block[0].startswith("# "), f"no reason above {block[0]!r}"


def test_the_app_runs_on_the_file() -> None:
    data = tomllib.loads(CELERY_CONFIG.read_text(encoding="utf-8"))
    for name, value in data.items():
        if name != "task_queues":
            assert app.conf[name] == value, name
    assert [q.name for q in app.conf.task_queues] == data["task_queues"] == ["intake", "dispatch", "send", "webhooks"]
    assert load_celery_config()["broker_transport_options"] == {"visibility_timeout": 900}


def test_reliability_settings_stay() -> None:
    """The choices the reliability suite depends on (see the reasons in the file)."""
    conf = app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_soft_time_limit < conf.task_time_limit < conf.broker_transport_options["visibility_timeout"]
    assert conf.accept_content == ["json"] and conf.task_serializer == "json"
    assert conf.task_routes["caredrip.enroll"] == {"queue": "intake"}


def test_worker_logs_are_not_redirected_through_logging() -> None:
    """The JSON lines of worker.logs are written to stderr once: Celery's stdout/stderr redirect
    would re-log each (one per message sent) through `logging`, ~20 µs of worker CPU a line."""
    assert app.conf.worker_redirect_stdouts is False
    assert app.conf.worker_hijack_root_logger is False
