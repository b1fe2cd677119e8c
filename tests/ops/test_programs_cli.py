"""`caredrip programs [--json]`, `caredrip programs freeze PROGRAM` and `caredrip lint --redis`,
each run as a real subprocess on the test's embedded Redis."""

from __future__ import annotations

import json
from pathlib import Path

from tests.ops.conftest import caredrip
from tests.support.versions import copy_content, ship_v2


def _enroll(env: dict[str, str], ref: str, phone: str) -> None:
    clinic = caredrip(env, "clinic", "add", f"Clinic {ref}").stdout.splitlines()[0].split()[1]
    args = ["enroll", "--clinic", clinic, "--patient-ref", ref, "--first-name", "Ana", "--phone", phone]
    result = caredrip(env, *args, "--timezone", "America/Chicago", "--consent")
    assert result.returncode == 0, result.stderr


def test_programs_lists_active_enrollments_per_version(env: dict[str, str], tmp_path: Path) -> None:
    content = copy_content(tmp_path)
    env = {**env, "CAREDRIP_CONTENT_DIR": str(content)}
    _enroll(env, "p-1", "+14155550101")
    ship_v2(content, retime=False)
    _enroll(env, "p-2", "+14155550102")
    _enroll(env, "p-3", "+14155550103")
    [row] = json.loads(caredrip(env, "programs", "--json").stdout)
    assert (row["id"], row["version"], row["active"]) == ("twitching", 2, 3)
    assert row["versions"] == [
        {"version": 1, "steps": 11, "active": 1, "frozen": True},
        {"version": 2, "steps": 11, "active": 2, "frozen": True},
    ]
    table = caredrip(env, "programs").stdout.splitlines()
    assert table[0].split()[:4] == ["twitching", "v2", "active", "3"]
    assert [line.split()[:2] for line in table[1:]] == [["v1", "frozen"], ["v2", "frozen"]]

    clean = caredrip(env, "lint", "--redis", timeout=180)  # version 2's added step breaks caps: not this test's rule
    assert "version:" not in clean.stdout and "caps:" in clean.stdout
    (content / "twitching" / "versions" / "1.yaml").unlink()  # patients still follow it
    refused = caredrip(env, "lint", "--redis", timeout=180)
    assert refused.returncode == 1
    assert "twitching: version: version 1 has 1 active enrollment(s), but: " in refused.stdout
    assert "versions/1.yaml: version: missing" in refused.stdout


def test_freeze_writes_the_declared_version_once(env: dict[str, str], tmp_path: Path) -> None:
    content = copy_content(tmp_path)
    program = content / "twitching" / "program.yaml"
    program.write_text(program.read_text().replace("version: 1", "version: 2"))
    first = caredrip(env, "programs", "freeze", "twitching", "--content-dir", str(content))
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("twitching v2: frozen in ")
    assert (content / "twitching" / "versions" / "2.yaml").exists()
    again = caredrip(env, "programs", "freeze", "twitching", "--content-dir", str(content))
    assert again.returncode == 0 and "already frozen, unchanged" in again.stdout
    program.write_text(program.read_text().replace('at: "19:00"', 'at: "18:00"'))
    refused = caredrip(env, "programs", "freeze", "twitching", "--content-dir", str(content))
    assert refused.returncode == 1 and "already frozen with other steps" in refused.stderr
    unknown = caredrip(env, "programs", "freeze", "nope", "--content-dir", str(content))
    assert unknown.returncode == 2 and unknown.stderr.startswith("program: no program 'nope'")
