"""`caredrip run` end to end: a fresh var dir, an enrollment over HTTP, the welcome in the outbox,
`caredrip status --json`, then SIGINT, and nothing left running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.ops.conftest import CAREDRIP, REPO, alive, caredrip, children_of, cli_env, processes_for
from tests.support.redis_fixture import wait_until
from worker import autogroup
from worker.redis_server import free_port

pytestmark = pytest.mark.slow

OUTBOX_SMS_KEYS = {"id", "enrollment_id", "clinic_id", "program", "step", "channel", "to", "body", "language",
                   "timezone", "due_at", "sent_at", "local_time", "segments", "encoding"}
STATUS_KEYS = {"queues", "due_now", "due_next_hour", "oldest_overdue_seconds", "in_flight", "last_hour",
               "unknown_total", "failed_total", "intake_failed_total", "alerts_open", "alert_oldest_age_seconds",
               "dispatch", "webhooks", "workers", "now"}


def daytime_zone(now: datetime) -> str:
    """A fixed-offset IANA zone where it is now between 10:00 and 18:59: no quiet hours, no caps."""
    for offset in range(-12, 15):
        if 10 <= (now + timedelta(hours=offset)).hour <= 18:
            # Etc/GMT signs are inverted: Etc/GMT-3 is UTC+3.
            return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"
    raise AssertionError("unreachable: some offset is always in daytime")


def outbox_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_run_enrolls_sends_reports_and_stops_cleanly(var_dir: Path, tmp_path: Path) -> None:
    env = cli_env(var_dir)
    port = free_port()
    log = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen([CAREDRIP, "run", "--port", str(port)], env=env, cwd=REPO, stdout=log,
                           stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _healthy(base), timeout=30, interval=0.05)

        added = caredrip(env, "clinic", "add", "Test", "--phone", "+16175550123")
        assert added.returncode == 0, added.stderr
        key = added.stdout.strip().splitlines()[-1]

        now = datetime.now(UTC)
        zone = daytime_zone(now)
        body = {
            "patient_ref": "p-1", "program": "twitching", "first_name": "Ana", "phone": "+14155552671",
            "channels": ["sms"], "language": "en", "timezone": zone,
            "consent": {"sms": True, "recorded_at": now.isoformat()},
        }
        response = httpx.post(f"{base}/v1/enrollments", json=body, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 201, response.text

        outbox = var_dir / "outbox.jsonl"
        records = wait_until(lambda: outbox_records(outbox), timeout=30, interval=0.1)
        welcome = records[0]
        assert welcome.keys() >= OUTBOX_SMS_KEYS
        assert (welcome["step"], welcome["channel"], welcome["to"]) == ("welcome", "sms", "+14155552671")
        assert "STOP" in welcome["body"] and welcome["timezone"] == zone

        status = caredrip(env, "status", "--json")
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert set(report) == STATUS_KEYS
        assert set(report["queues"]) == {"intake", "dispatch", "send", "webhooks"}
        assert report["last_hour"]["sent"] >= 1
        assert report["workers"], "the run's worker should answer a ping"

        children = children_of(run.pid)
        # the worker and beat waited behind the API (worker.autogroup) only until it answered
        wait_until(lambda: all(autogroup.nice(pid) in (0, None) for pid in children), timeout=5)
        redis_pid = int((var_dir / "redis" / "redis.pid").read_text())
        assert len(children) >= 4, f"expected api, worker, beat and redis-server, got {children}"

        run.send_signal(signal.SIGINT)
        assert run.wait(timeout=15) == 0
        wait_until(lambda: not any(alive(pid) for pid in {*children, redis_pid}), timeout=2)
        assert not processes_for(var_dir)
    finally:
        if run.poll() is None:  # a failed assertion: still stop the stack the way an operator would
            run.send_signal(signal.SIGINT)
            try:
                run.wait(20)
            except subprocess.TimeoutExpired:
                run.kill()
                run.wait(5)
        log.close()
    output = (tmp_path / "run.log").read_text()
    assert "API ready in" in output and "stopped" in output
    # JSON logs of the send outcome, without PHI: no number (not even masked here), name or text.
    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    sent = [e for e in events if e.get("outcome") == "sent"]
    assert sent and {"message_id", "enrollment_id", "step", "channel", "outcome"} <= sent[0].keys()
    for secret in ("4155552671", "Ana", welcome["body"][:20]):
        assert secret not in output


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def _beats(var_dir: Path) -> list[int]:
    return [p for p, cmd in processes_for(var_dir).items() if "worker.beat_app" in cmd]


def test_run_restarts_a_child_that_dies_then_gives_up_if_it_keeps_dying(var_dir: Path, tmp_path: Path) -> None:
    env = cli_env(var_dir)
    port = free_port()
    with (tmp_path / "run.log").open("wb") as log:
        run = subprocess.Popen([CAREDRIP, "run", "--port", str(port)], env=env, cwd=REPO, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until(lambda: _healthy(f"http://127.0.0.1:{port}"), timeout=30, interval=0.05)
            killed: set[int] = set()
            for _ in range(6):  # the supervisor restarts beat 5 times in a minute, then stops everything
                beat = wait_until(lambda: [p for p in _beats(var_dir) if p not in killed], timeout=15)
                os.kill(beat[0], signal.SIGKILL)
                killed.add(beat[0])
                if len(killed) == 1:
                    wait_until(lambda: [p for p in _beats(var_dir) if p not in killed], timeout=15)
                    assert run.poll() is None, "one death is survived: the child is started again"
            assert run.wait(timeout=20) == 1
            wait_until(lambda: not processes_for(var_dir), timeout=5)
        finally:
            if run.poll() is None:
                run.send_signal(signal.SIGTERM)
                run.wait(20)
    text = (tmp_path / "run.log").read_text()
    assert "beat exited with -9; started it again" in text and "beat keeps exiting" in text
