"""The `caredrip` commands that need no running worker, each run as a real subprocess."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.ops.conftest import caredrip, cli_env
from worker.records import MessageRecord, MessageState, message_id
from worker.store import FAILED_INDEX, Store
from worker.store.codec import pack_record, record_field
from worker.store.keys import records_key

MESSAGE_KEYS = {"id", "enrollment_id", "channel", "step", "state", "reason"}


def test_simulate_json_has_the_documented_shape(env: dict[str, str]) -> None:
    result = caredrip(env, "simulate", "--program", "twitching", "--days", "28", "--timezone", "Europe/Madrid",
                      "--language", "es", "--start", "2026-03-02T09:00:00+01:00", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert {"program", "timezone", "language", "channels", "start", "messages"} <= out.keys()
    assert (out["program"], out["timezone"], out["language"]) == ("twitching", "Europe/Madrid", "es")
    assert len(out["messages"]) == 22
    for message in out["messages"]:
        assert {"step", "channel", "local_time", "utc_time", "body"} <= message.keys()
        extra = {"segments", "encoding"} if message["channel"] == "sms" else {"subject"}
        assert extra <= message.keys()
    times = [m["utc_time"] for m in out["messages"]]
    assert times == sorted(times)


def test_simulate_table_and_bad_input(env: dict[str, str]) -> None:
    table = caredrip(env, "simulate", "--days", "3", "--channels", "sms")
    assert table.returncode == 0, table.stderr
    assert "welcome" in table.stdout and "STOP" in table.stdout
    bad = caredrip(env, "simulate", "--timezone", "Mars/Olympus")
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and "timezone" in bad.stderr


def test_simulate_with_an_anchor(env: dict[str, str]) -> None:
    result = caredrip(env, "simulate", "--program", "visit-prep", "--start", "2026-11-02T20:00:00-05:00",
                      "--anchor", "visit=2026-11-03T15:00:00-05:00", "--channels", "sms", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert [m["step"] for m in out["messages"]] == ["welcome", "medicines-list", "after-visit"]
    assert [(s["step"], s["reason"]) for s in out["skipped"]] == [("notes", "late")]
    for args in (("--anchor", "visit"), ("--anchor", "visit=tuesday"), ()):
        bad = caredrip(env, "simulate", "--program", "visit-prep", *args)
        assert bad.returncode == 2
        assert len(bad.stderr.strip().splitlines()) == 1 and "anchor" in bad.stderr, bad.stderr


def test_lint_passes_on_the_shipped_content(env: dict[str, str]) -> None:
    result = caredrip(env, "lint", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr


def test_lint_fails_with_one_line_per_problem(env: dict[str, str], tmp_path: Path) -> None:
    empty = tmp_path / "no-content"
    empty.mkdir()
    result = caredrip(env, "lint", "--content-dir", str(empty))
    assert result.returncode == 1
    assert "no programs found" in result.stdout


def test_clinic_add_list_revoke(env: dict[str, str]) -> None:
    added = caredrip(env, "clinic", "add", "Riverside Clinic", "--phone", "+16175550123", "--email", "desk@example.org")
    assert added.returncode == 0, added.stderr
    lines = added.stdout.strip().splitlines()
    key = lines[-1]
    assert key.startswith("cdk_") and " " not in key
    clinic_id = lines[0].split()[1]

    listed = caredrip(env, "clinic", "list", "--json")
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["name"], r["revoked_at"]) for r in rows] == [(clinic_id, "Riverside Clinic", None)]
    assert key not in listed.stdout

    assert caredrip(env, "clinic", "revoke", clinic_id).returncode == 0
    assert "revoked" in caredrip(env, "clinic", "list").stdout
    missing = caredrip(env, "clinic", "revoke", "c_nothere")
    assert missing.returncode == 1 and "no clinic" in missing.stderr

    bad = caredrip(env, "clinic", "add", "X", "--phone", "12345")
    assert bad.returncode == 2 and bad.stderr.startswith("phone:")


def test_clinic_add_as_the_readme_shows_it(env: dict[str, str]) -> None:
    """Issue 13 item 21: the README's command, with the fictional +1 555-01xx number, works as written;
    a clinic number is still strict E.164 (no spaces or letters)."""
    added = caredrip(env, "clinic", "add", "Riverside Family Clinic", "--phone", "+15550102345")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip().splitlines()[-1].startswith("cdk_")
    assert "+15550102345" in caredrip(env, "clinic", "list", "--json").stdout
    for bad in ("+1 555 010 2345", "+1555010ABCD"):
        refused = caredrip(env, "clinic", "add", "X", "--phone", bad)
        assert refused.returncode == 2 and refused.stderr.startswith("phone:"), refused.stderr


def test_enroll_one_off(env: dict[str, str]) -> None:
    clinic_id = caredrip(env, "clinic", "add", "Riverside").stdout.splitlines()[0].split()[1]
    args = ["enroll", "--clinic", clinic_id, "--patient-ref", "p-7", "--first-name", "Ana",
            "--phone", "+14155552671", "--timezone", "America/Chicago"]
    refused = caredrip(env, *args)
    assert refused.returncode == 2 and refused.stderr.startswith("consent:")
    first = caredrip(env, *args, "--consent")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().endswith("created")
    again = caredrip(env, *args, "--consent")
    assert "unchanged" in again.stdout and first.stdout.split()[1] == again.stdout.split()[1]
    bad = caredrip(env, *args[:-2], "--timezone", "Nowhere/Town", "--consent")
    assert bad.returncode == 2 and bad.stderr.startswith("timezone:")
    assert len(bad.stderr.strip().splitlines()) == 1


def test_messages_failed_json_shape_and_resend(env: dict[str, str], store: Store) -> None:
    assert json.loads(caredrip(env, "messages", "failed", "--json").stdout) == []
    now = datetime.now(UTC)
    mid = message_id("e0000000000000000001", "hydration", "sms")
    failed = MessageRecord("e0000000000000000001", "hydration", "sms", 1, MessageState.FAILED, now, reason="21211")
    store.redis.hset(records_key("e0000000000000000001"), record_field("hydration", "sms", 1), pack_record(failed))
    batch = store.batch()
    batch.add_to_index(FAILED_INDEX, mid, now)
    batch.run()
    listed = json.loads(caredrip(env, "messages", "failed", "--json").stdout)
    assert listed == [{"id": mid, "enrollment_id": "e0000000000000000001", "channel": "sms", "step": "hydration",
                       "state": "failed", "reason": "21211"}]
    assert set(listed[0]) == MESSAGE_KEYS
    assert json.loads(caredrip(env, "messages", "unknown", "--json").stdout) == []
    table = caredrip(env, "messages", "failed")
    assert mid in table.stdout and "21211" in table.stdout

    resent = caredrip(env, "messages", "resend", mid)
    assert resent.returncode == 0 and "not resendable" in resent.stdout
    assert caredrip(env, "messages", "resend").returncode == 2
    assert caredrip(env, "messages", "resend", "--all-unknown").stdout.strip() == "no messages in state unknown"


def test_status_json_keys(env: dict[str, str]) -> None:
    result = caredrip(env, "status", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"queues", "due_now", "due_next_hour", "oldest_overdue_seconds", "in_flight",
                           "last_hour", "unknown_total", "failed_total", "intake_failed_total", "alerts_open",
                           "alert_oldest_age_seconds", "dispatch", "webhooks", "workers", "now"}
    assert report["webhooks"] == {
        "pending": 0, "in_flight": 0, "failed_total": 0, "delivered_total": 0, "emit_errors_total": 0
    }  # fmt: skip
    assert set(report["queues"]) == {"intake", "dispatch", "send", "webhooks"}
    assert report["workers"] == []
    assert set(report["last_hour"]) == {"sent", "failed", "unknown", "retrying", "skipped"}
    assert "due now" in caredrip(env, "status").stdout and "clinic events" in caredrip(env, "status").stdout


@pytest.mark.parametrize(("name", "value"), [("CAREDRIP_QUIET_HOURS", "bad"), ("CAREDRIP_TIME_SCALE", "fast")])
def test_a_bad_setting_is_one_line_and_exit_2(var_dir: Path, name: str, value: str) -> None:
    result = caredrip(cli_env(var_dir, **{name: value}), "status")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0]
