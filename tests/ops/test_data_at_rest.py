"""Data at rest on a laptop: after `caredrip run` has sent a message, everything under var/ is
this user's only (directories 0700, files 0600, the embedded Redis's socket 0700 and no TCP port),
and the secret is a file under var/keys/, not a Redis key; an older installation's `cd:secret`
moves there once, so its enrollment ids stay what they were."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import redis

from tests.ops.conftest import CAREDRIP, REPO, caredrip, cli_env
from tests.ops.test_run import _healthy, daytime_zone, outbox_records
from tests.support.redis_fixture import wait_until
from worker.redis_server import ensure_embedded, free_port
from worker.tokens import enrollment_id

pytestmark = pytest.mark.slow

SECRET_FILE = Path("keys") / "CAREDRIP_SECRET_KEY"


def loose_entries(var_dir: Path) -> dict[str, str]:
    """Every path under `var_dir` that is not private: relative path -> its mode."""
    loose: dict[str, str] = {}
    for root, dirs, files in os.walk(var_dir):
        for name in [*dirs, *files]:
            path = Path(root) / name
            mode = path.lstat().st_mode
            wanted = 0o600 if stat.S_ISREG(mode) else 0o700  # directories; the Redis socket
            if stat.S_IMODE(mode) != wanted:
                loose[str(path.relative_to(var_dir))] = oct(stat.S_IMODE(mode))
    return loose


def _enroll_over_http(base: str, key: str) -> None:
    now = datetime.now(UTC)
    body = {
        "patient_ref": "p-1", "program": "twitching", "first_name": "Ana", "phone": "+14155552671",
        "channels": ["sms"], "language": "en", "timezone": daytime_zone(now),
        "consent": {"sms": True, "recorded_at": now.isoformat()},
    }  # fmt: skip
    response = httpx.post(f"{base}/v1/enrollments", json=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 201, response.text


def test_everything_a_run_leaves_under_var_is_private(var_dir: Path, tmp_path: Path) -> None:
    env = cli_env(var_dir)
    port = free_port()
    with (tmp_path / "run.log").open("wb") as log:
        run = subprocess.Popen(
            [CAREDRIP, "run", "--port", str(port)], env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until(lambda: _healthy(base), timeout=30, interval=0.05)
            added = caredrip(env, "clinic", "add", "Test", "--phone", "+16175550123")
            assert added.returncode == 0, added.stderr
            _enroll_over_http(base, added.stdout.strip().splitlines()[-1])
            wait_until(lambda: outbox_records(var_dir / "outbox.jsonl"), timeout=30, interval=0.1)

            url = (var_dir / "redis" / "redis.url").read_text().strip()
            assert url.startswith("unix://"), url
            client = redis.Redis.from_url(url, decode_responses=True)
            assert client.config_get("port") == {"port": "0"}
            assert client.exists("cd:secret") == 0
            client.bgsave()  # an RDB snapshot too, as a backup would take one
            wait_until(lambda: (var_dir / "redis" / "dump.rdb").exists(), timeout=10)
            wait_until(lambda: not client.info("persistence")["rdb_bgsave_in_progress"], timeout=10)
            client.close()

            written = {str(p.relative_to(var_dir)) for p in var_dir.rglob("*")}
            expected = {"outbox.jsonl", "run.json", "run.lock", str(SECRET_FILE), "keys/CAREDRIP_DATA_KEYS",
                        "redis/redis.log", "redis/dump.rdb", "redis/redis.url", "redis/redis.pid"}  # fmt: skip
            assert expected <= written, expected - written
            assert any(name.startswith("celerybeat-schedule") for name in written)
            assert any(name.startswith("redis/appendonly") for name in written)
            assert loose_entries(var_dir) == {}
        finally:
            run.send_signal(signal.SIGINT)
            assert run.wait(timeout=20) == 0
    assert loose_entries(var_dir) == {}


def test_an_older_installations_secret_moves_from_redis_to_var_keys(var_dir: Path, env: dict[str, str]) -> None:
    # a raw client: the `store` fixture would make var/keys/'s secret before the old one is there
    client = redis.Redis.from_url(ensure_embedded(var_dir).url, decode_responses=True)
    old = "3c" * 32
    client.set("cd:secret", old)
    added = caredrip(env, "clinic", "add", "Riverside")
    assert added.returncode == 0, added.stderr
    clinic_id = added.stdout.splitlines()[0].split()[1]
    enrolled = caredrip(
        env, "enroll", "--clinic", clinic_id, "--patient-ref", "MRN-7", "--first-name", "Ana",
        "--phone", "+14155552671", "--timezone", "America/Chicago", "--consent",
    )  # fmt: skip
    assert enrolled.returncode == 0, enrolled.stderr
    assert enrolled.stdout.split()[1].rstrip(":") == enrollment_id(old.encode(), clinic_id, "MRN-7", "twitching")
    assert (var_dir / SECRET_FILE).read_text().strip() == old
    assert stat.S_IMODE((var_dir / SECRET_FILE).stat().st_mode) == 0o600
    assert client.exists("cd:secret") == 0
    client.close()
