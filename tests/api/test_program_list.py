"""`caredrip programs` behind the command (worker.program_list): versions and active enrollments."""

from __future__ import annotations

import shutil
from pathlib import Path

from starlette.testclient import TestClient

from tests.api.conftest import enrollment_body
from worker.deps import EngineDeps
from worker.program_list import content_version, list_programs, rows_json
from worker.programs import ProgramCatalog


def test_active_enrollments_per_program_leave_out_paused_and_ended(client: TestClient, engine: EngineDeps) -> None:
    ids = [client.post("/v1/enrollments", json=enrollment_body(patient_ref=f"p-{i}")).json()["id"] for i in range(4)]
    client.post(f"/v1/enrollments/{ids[0]}/pause")
    client.post(f"/v1/enrollments/{ids[1]}/cancel")
    rows = rows_json(list_programs(engine.catalog, engine.store))
    assert [r["id"] for r in rows] == ["twitching", "visit-prep"] and rows[1]["active"] == 0
    row = rows[0]
    assert (row["id"], row["active"], row["steps"], row["languages"]) == ("twitching", 2, 11, ["en", "es"])
    assert row["version"] == content_version(engine.catalog.content_dir / "twitching")


def test_the_version_is_a_hash_of_the_program_s_files(engine: EngineDeps, tmp_path: Path) -> None:
    copy = tmp_path / "content"
    shutil.copytree(engine.catalog.content_dir / "twitching", copy / "twitching")
    before = content_version(copy / "twitching")
    assert len(before) == 12 and before == content_version(engine.catalog.content_dir / "twitching")
    strings = copy / "twitching" / "strings" / "en.yaml"
    strings.write_text(strings.read_text().replace("Reply STOP", "Reply  STOP", 1))
    assert content_version(copy / "twitching") != before
    (copy / "broken").mkdir()
    (copy / "broken" / "program.yaml").write_text("id: broken\n")
    rows = list_programs(ProgramCatalog(copy), engine.store)
    assert [r.id for r in rows] == ["broken", "twitching"] and rows[0].error and rows[1].active == 0
