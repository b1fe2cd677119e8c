"""`caredrip enroll --csv`, `caredrip explain` and `caredrip programs`, each run as a real subprocess
against the test's own embedded Redis."""

from __future__ import annotations

import json
from pathlib import Path

from tests.ops.conftest import caredrip
from worker.store import Store
from worker.store.keys import due_key

REPO = Path(__file__).resolve().parents[2]
HEADER = "clinic_id,patient_ref,program,first_name,phone,channels,timezone,consent_sms,consent_recorded_at"


def add_clinic(env: dict[str, str], name: str = "Riverside") -> str:
    return caredrip(env, "clinic", "add", name).stdout.splitlines()[0].split()[1]


def row(ref: str, *, clinic: str = "", phone: str = "+14155552671", zone: str = "America/Chicago",
        program: str = "twitching") -> str:  # fmt: skip
    return f"{clinic},{ref},{program},Ana,{phone},sms,{zone},true,2026-01-01T00:00:00Z"


def test_enroll_csv_reports_rejected_rows_and_stores_the_valid_ones(
    env: dict[str, str], store: Store, tmp_path: Path
) -> None:
    clinic = add_clinic(env)
    path = tmp_path / "patients.csv"
    rows = [row("p-1"), row("p-2", phone=""), row("p-3", zone="Mars/Olympus"), row("p-4", program="knitting"),
            row("p-1"), row("p-6", phone="+14155552672")]  # fmt: skip
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    dry = caredrip(env, "enroll", "--csv", str(path), "--clinic", clinic, "--dry-run")
    assert dry.returncode == 1, dry.stderr
    assert dry.stdout.startswith("dry run, nothing stored: would create 2, already enrolled 0, rejected 4")
    assert store.redis.zcard(due_key("sms")) == 0
    first = caredrip(env, "enroll", "--csv", str(path), "--clinic", clinic)
    assert first.returncode == 1
    lines = first.stdout.splitlines()
    assert lines[0] == "created 2, already enrolled 0, rejected 4 (of 6 rows)"
    assert lines[1].startswith("row 2: phone: required when channels include sms")
    assert lines[2].startswith("row 3: timezone:") and lines[3].startswith("row 4: program: unknown program")
    assert lines[4] == "row 5: patient_ref: repeats row 1 (the same patient_ref and program)"
    assert store.redis.zcard(due_key("sms")) == 2
    again = caredrip(env, "enroll", "--csv", str(path), "--clinic", clinic, "--json")
    report = json.loads(again.stdout)
    assert (report["created"], report["existing"], len(report["rejected"])) == (0, 2, 4)


def test_rows_name_their_clinic_without_clinic_option(env: dict[str, str], tmp_path: Path) -> None:
    clinic = add_clinic(env)
    path = tmp_path / "patients.csv"
    path.write_text("\n".join([HEADER, row("p-1", clinic=clinic), row("p-2", clinic="c_nope"), row("p-3")]) + "\n")
    result = caredrip(env, "enroll", "--csv", str(path), "--json")
    report = json.loads(result.stdout)
    assert report["created"] == 1
    assert [(r["row"], r["field"]) for r in report["rejected"]] == [(2, "clinic_id"), (3, "clinic_id")]
    assert "no clinic 'c_nope'" in report["rejected"][0]["reason"]


def test_files_refused_whole_exit_2_with_one_line(env: dict[str, str], store: Store, tmp_path: Path) -> None:
    clinic = add_clinic(env)
    big = tmp_path / "big.csv"
    big.write_text(HEADER + "\n" + "\n".join(row(f"p-{i}") for i in range(100_001)) + "\n")
    refused = caredrip(env, "enroll", "--csv", str(big), "--clinic", clinic)
    assert (
        refused.returncode == 2 and refused.stderr.strip() == "file: 100001 rows: at most 100,000 in one file, split it"
    )
    assert store.redis.zcard(due_key("sms")) == 0
    missing = caredrip(env, "enroll", "--csv", str(tmp_path / "none.csv"), "--clinic", clinic)
    assert missing.returncode == 2 and missing.stderr.startswith("csv: no file")
    header = tmp_path / "bad.csv"
    header.write_text("patient_ref,phon\n")
    bad = caredrip(env, "enroll", "--csv", str(header), "--clinic", clinic)
    assert bad.returncode == 2 and bad.stderr.startswith("columns: unknown column 'phon'")
    mixed = caredrip(env, "enroll", "--csv", str(big), "--clinic", clinic, "--patient-ref", "x")
    assert mixed.returncode == 2 and mixed.stderr.startswith("csv:")


def test_the_example_file_enrolls_then_explain_and_programs(env: dict[str, str], store: Store) -> None:
    clinic = add_clinic(env)
    example = caredrip(env, "enroll", "--csv", str(REPO / "docs/examples/enrollments.csv"), "--clinic", clinic)
    assert example.returncode == 0, example.stdout + example.stderr
    assert example.stdout.startswith("created 3, already enrolled 0, rejected 0")
    lines = caredrip(env, "enroll", "--csv", str(REPO / "docs/examples/enrollments.jsonl"), "--clinic", clinic)
    assert lines.stdout.startswith("created 0, already enrolled 2, rejected 0"), lines.stdout + lines.stderr
    listed = json.loads(caredrip(env, "programs", "--json").stdout)
    [twitching] = [p for p in listed if p["id"] == "twitching"]
    assert twitching["active"] == 3 and twitching["version"] == 1 and twitching["steps"] == 11
    eid = str(store.redis.zrange(due_key("sms"), 0, 0)[0])
    explained = caredrip(env, "explain", eid, "--json")
    assert explained.returncode == 0, explained.stderr
    result = json.loads(explained.stdout)
    assert result["enrollment_id"] == eid and result["messages"][0]["state"] == "scheduled"
    table = caredrip(env, "explain", eid)
    assert eid in table.stdout.splitlines()[0] and "twitching v1" in table.stdout.splitlines()[0]
    assert "hydration" in table.stdout
    unknown = caredrip(env, "explain", "e0000000000000000000")
    assert unknown.returncode == 1 and "no enrollment" in unknown.stderr
