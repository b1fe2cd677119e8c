"""Operators' commands for clinics' keys, one enrollment's lifecycle and refused intakes, each run
as a real subprocess (issue 13, items 8 and 15)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.ops.conftest import caredrip
from tests.support.engine import make_deps
from worker.clinics import authenticate
from worker.intake_queue import accept
from worker.redis_server import ensure_embedded
from worker.store import ClinicStore


@pytest.fixture
def clinics(var_dir: Path) -> Iterator[ClinicStore]:
    """The clinic store on the var dir's embedded Redis: the same server the CLI subprocesses find."""
    client = redis.Redis.from_url(ensure_embedded(var_dir).url, decode_responses=True)
    yield ClinicStore(client)
    client.close()


def added(env: dict[str, str], *args: str) -> tuple[str, str]:
    """Run an adding command; (its first line, the key alone on its last line)."""
    result = caredrip(env, *args)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1].startswith("cdk_") and " " not in lines[-1]
    return lines[0], lines[-1]


def test_clinic_key_add_list_revoke(env: dict[str, str], clinics: ClinicStore) -> None:
    first_line, first = added(env, "clinic", "add", "Riverside Family Clinic")
    cid = first_line.split()[1]
    key_line, second = added(env, "clinic", "key", "add", cid)
    new_id = key_line.split()[1]
    assert key_line == f"key {new_id} added to clinic {cid}" and new_id.startswith("k_")

    listed = caredrip(env, "clinic", "key", "list", cid, "--json")
    rows = json.loads(listed.stdout)
    assert [set(r) for r in rows] == [{"id", "created_at", "revoked_at"}] * 2 and new_id in {r["id"] for r in rows}
    old_id = next(r["id"] for r in rows if r["id"] != new_id)
    clinic_json = caredrip(env, "clinic", "list", "--json").stdout
    every_listing = listed.stdout + clinic_json + caredrip(env, "clinic", "list").stdout
    assert first not in every_listing and second not in every_listing
    assert {k["id"] for k in json.loads(clinic_json)[0]["keys"]} == {old_id, new_id}

    revoked = caredrip(env, "clinic", "key", "revoke", old_id)
    assert (revoked.returncode, revoked.stdout.strip()) == (0, f"key {old_id} of clinic {cid} revoked")
    assert authenticate(clinics, first) is None and authenticate(clinics, second) == cid
    table = caredrip(env, "clinic", "key", "list", cid).stdout
    assert old_id in table and "revoked" in table

    unknown = caredrip(env, "clinic", "key", "revoke", "k_000000000000")
    assert unknown.returncode == 1 and unknown.stderr.strip() == "no key k_000000000000"
    nobody = caredrip(env, "clinic", "key", "add", "c_nothere")
    assert nobody.returncode == 1 and nobody.stderr.strip() == "no clinic c_nothere" and nobody.stdout == ""

    assert caredrip(env, "clinic", "revoke", cid).returncode == 0
    assert authenticate(clinics, second) is None
    closed = caredrip(env, "clinic", "key", "add", cid)
    assert closed.returncode == 1 and "revoked" in closed.stderr and "cdk_" not in closed.stdout


def test_enrollment_pause_resume_cancel(env: dict[str, str]) -> None:
    cid = added(env, "clinic", "add", "Riverside")[0].split()[1]
    enrolled = caredrip(env, "enroll", "--clinic", cid, "--patient-ref", "p-7", "--first-name", "Ana",
                        "--phone", "+14155552671", "--timezone", "America/Chicago", "--consent")  # fmt: skip
    assert enrolled.returncode == 0, enrolled.stderr
    eid = enrolled.stdout.split()[1].rstrip(":")

    def act(*args: str) -> tuple[int, str, str]:
        result = caredrip(env, "enrollment", *args)
        return result.returncode, result.stdout.strip(), result.stderr.strip()

    assert act("pause", eid) == (0, f"enrollment {eid}: paused", "")
    assert act("pause", eid) == (0, f"enrollment {eid}: paused (unchanged)", "")
    assert act("resume", eid) == (0, f"enrollment {eid}: active", "")
    assert act("cancel", eid) == (0, f"enrollment {eid}: canceled", "")
    assert act("cancel", eid) == (0, f"enrollment {eid}: canceled (unchanged)", "")
    for action in ("pause", "resume"):
        assert act(action, eid) == (1, "", f"cannot {action} an enrollment that is canceled")
    for unknown in ("e0000000000000000000", "not-an-id"):
        assert act("cancel", unknown) == (1, "", f"no enrollment {unknown}")


def test_intake_failed_lists_refusals_without_the_body(env: dict[str, str], var_dir: Path, tmp_path: Path) -> None:
    assert json.loads(caredrip(env, "intake", "failed", "--json").stdout) == []
    assert caredrip(env, "intake", "failed").stdout.strip() == "none"
    cid = added(env, "clinic", "add", "Riverside")[0].split()[1]
    url = ensure_embedded(var_dir).url
    deps = make_deps(url, tmp_path / "outbox.jsonl")
    clinics = ClinicStore(redis.Redis.from_url(url, decode_responses=True))
    body = {"patient_ref": "MRN-7781", "first_name": "Philippa", "phone": "+1415555ABCD", "program": "twitching",
            "channels": ["sms"], "timezone": "America/New_York",
            "consent": {"sms": True, "recorded_at": "2026-03-01T14:00:00Z"}}  # fmt: skip
    assert accept(deps.engine, clinics, cid, body, intake_id="task-1")["error"]["field"] == "phone"
    assert accept(deps.engine, clinics, "c_nothere", body, intake_id="task-2")["error"]["field"] == "clinic_id"
    listed = caredrip(env, "intake", "failed", "--json")
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["clinic_id"], r["field"]) for r in rows] == [("task-2", "c_nothere", "clinic_id"),
                                                                    ("task-1", cid, "phone")]  # fmt: skip
    assert all(set(r) == {"id", "clinic_id", "field", "reason", "at"} and r["reason"] for r in rows)
    table = caredrip(env, "intake", "failed").stdout
    assert "task-1" in table and "phone" in table
    for marker in ("Philippa", "MRN-7781", "ABCD"):
        assert marker not in listed.stdout + table
    assert json.loads(caredrip(env, "status", "--json").stdout)["intake_failed_total"] == 2
    clinics.redis.close()
    deps.engine.store.close()
