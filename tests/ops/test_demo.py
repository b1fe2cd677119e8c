"""`caredrip demo`: the whole twitching program, every step on both channels, in under two minutes."""

from __future__ import annotations

import re
import time
from datetime import time as clock_time
from pathlib import Path

import pytest

from tests.ops.conftest import REPO, caredrip, cli_env, processes_for
from worker.policy import parse_quiet_hours
from worker.programs import load_program

pytestmark = pytest.mark.slow

DEMO_BOUND = 120.0
LINE = re.compile(r"^day\s+(\d+)\s+\w{3} \w{3} \d{2} (\d{2}):(\d{2}) \S+\s+(sms|email)\s+(\S+)\s+(.+)$")


def test_demo_prints_every_step_and_ends_in_time(var_dir: Path) -> None:
    started = time.monotonic()
    result = caredrip(cli_env(var_dir), "demo", timeout=DEMO_BOUND + 30)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert elapsed < DEMO_BOUND, f"demo took {elapsed:.1f}s"

    printed = [m for m in map(LINE.match, result.stdout.splitlines()) if m]
    program = load_program(REPO / "content", "twitching")
    expected = {(step.id, channel) for step in program.steps for channel in step.channels}
    assert {(m.group(5), m.group(4)) for m in printed} == expected
    assert len(printed) == len(expected), "each message printed once"
    assert "Program completed" in result.stdout

    quiet = parse_quiet_hours("21:00-08:00")
    for m in printed:
        assert not quiet.contains(clock_time(int(m.group(2)), int(m.group(3)))), m.group(0)
        assert m.group(6).strip(), "SMS text or email subject printed"
    assert not processes_for(var_dir), "the demo left processes behind"
