"""What caredrip writes under var/ itself is private whatever the umask: lock, pid and url files,
children's logs, the outbox."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from worker.channels.base import OutgoingMessage
from worker.channels.outbox import OutboxChannel
from worker.records import Channel
from worker.supervisor import Supervisor
from worker.var_dir import exclusive, private_dir, tighten, write_atomically


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def loose_umask() -> Iterator[None]:
    """A shell's usual umask (022): files would come out 0644 unless written with a mode."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def test_lock_and_atomically_written_files_are_0600(tmp_path: Path) -> None:
    var_dir = private_dir(tmp_path / "var")
    with exclusive(var_dir / "run.lock", timeout=1):
        write_atomically(var_dir / "run.json", "{}\n")
    assert (_mode(var_dir), _mode(var_dir / "run.lock"), _mode(var_dir / "run.json")) == (0o700, 0o600, 0o600)
    assert sorted(p.name for p in var_dir.iterdir()) == ["run.json", "run.lock"]


def test_childrens_logs_are_0600_in_a_0700_directory(tmp_path: Path) -> None:
    logs = tmp_path / "var" / "logs"
    with Supervisor(dict(os.environ), log_dir=logs) as supervisor:
        child = supervisor.start("api", [sys.executable, "-c", "print('up')"])
        child.process.wait(30)
    assert (_mode(logs), _mode(logs / "api.log")) == (0o700, 0o600)
    assert (logs / "api.log").read_text() == "up\n"


def test_the_outbox_is_0600_in_a_0700_directory(tmp_path: Path) -> None:
    path = tmp_path / "var" / "outbox.jsonl"
    message = OutgoingMessage(
        id="e1.welcome.sms.1", enrollment_id="e1", clinic_id="c_1", program="twitching", step="welcome",
        channel=Channel.SMS, to="+14155552671", body="Hello", language="en", timezone="UTC",
        due_at=datetime(2026, 3, 2, 15, tzinfo=UTC),
    )  # fmt: skip
    OutboxChannel("sms", path).send(message, now=datetime(2026, 3, 2, 15, tzinfo=UTC))
    assert (_mode(path.parent), _mode(path)) == (0o700, 0o600)


def test_what_an_older_version_left_readable_is_tightened(tmp_path: Path) -> None:
    redis_dir = tmp_path / "var" / "redis"
    (redis_dir / "appendonlydir").mkdir(parents=True, mode=0o755)
    (redis_dir / "appendonlydir" / "appendonly.aof.1.incr.aof").write_text("*1\r\n")
    (redis_dir / "redis.log").write_text("log")
    (redis_dir / "redis.log").chmod(0o644)
    (redis_dir / "already.private").write_text("x")
    (redis_dir / "already.private").chmod(0o400)
    tighten([redis_dir, tmp_path / "var" / "missing"])
    assert _mode(redis_dir) == _mode(redis_dir / "appendonlydir") == 0o700
    assert _mode(redis_dir / "appendonlydir" / "appendonly.aof.1.incr.aof") == _mode(redis_dir / "redis.log") == 0o600
    assert _mode(redis_dir / "already.private") == 0o400  # tighter than needed: left as it is
