"""Issue 19: while the API imports, `caredrip run` puts the worker's and beat's sessions behind it
(autogroup nice), then back to 0: checked on real child sessions."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from worker import autogroup
from worker.stack import BEHIND_API_NICE, behind_api
from worker.supervisor import Supervisor

pytestmark = pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="no autogroups (not Linux)")

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_a_session_s_nice_goes_up_and_back_to_zero() -> None:
    with Supervisor(dict(os.environ)) as supervisor:
        child = supervisor.start("sleeper", SLEEP)
        ours = autogroup.nice(os.getpid())  # None in the boot session (e.g. a container's init's)
        assert autogroup.nice(child.pid) == 0
        assert autogroup.set_nice(child.pid, 7) and autogroup.nice(child.pid) == 7
        assert autogroup.nice(os.getpid()) == ours  # its own session changed, not ours
        assert autogroup.set_nice(child.pid, 0) and autogroup.nice(child.pid) == 0


def test_worker_and_beat_wait_behind_the_api_then_come_back() -> None:
    with Supervisor(dict(os.environ)) as supervisor:
        for name in ("api", "worker", "beat"):
            supervisor.start(name, SLEEP)
        behind_api(supervisor, BEHIND_API_NICE)
        assert {c.name: autogroup.nice(c.pid) for c in supervisor.children} == {
            "api": 0, "worker": BEHIND_API_NICE, "beat": BEHIND_API_NICE,
        }  # fmt: skip
        behind_api(supervisor, 0)
        assert {autogroup.nice(c.pid) for c in supervisor.children} == {0}


def test_a_gone_process_or_a_negative_nice_changes_nothing(tmp_path: Path) -> None:
    assert autogroup.nice(2**22 + 12345) is None
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "autogroup").write_text("")  # the boot session: the kernel prints nothing
    assert autogroup.nice(1, proc=tmp_path) is None
    assert not autogroup.set_nice(2**22 + 12345, 5)
    with pytest.raises(ValueError):
        autogroup.set_nice(os.getpid(), -1)  # below 0 would need CAP_SYS_NICE: never asked
