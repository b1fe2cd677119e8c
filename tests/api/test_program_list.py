"""`caredrip programs` behind the command (worker.program_list): versions and active enrollments per version."""

from __future__ import annotations

import shutil
from pathlib import Path

from starlette.testclient import TestClient

from tests.api.conftest import enrollment_body
from worker.deps import EngineDeps
from worker.program_list import list_programs, rows_json
from worker.programs import ProgramCatalog


def test_active_enrollments_per_program_leave_out_paused_and_ended(client: TestClient, engine: EngineDeps) -> None:
    ids = [client.post("/v1/enrollments", json=enrollment_body(patient_ref=f"p-{i}")).json()["id"] for i in range(4)]
    client.post(f"/v1/enrollments/{ids[0]}/pause")
    client.post(f"/v1/enrollments/{ids[1]}/cancel")
    rows = rows_json(list_programs(engine.catalog, engine.store))
    assert [r["id"] for r in rows] == ["twitching", "visit-prep"] and rows[1]["active"] == 0
    row = rows[0]
    assert (row["id"], row["active"], row["steps"], row["languages"]) == ("twitching", 2, 11, ["en", "es"])
    assert row["version"] == 1
    assert row["versions"] == [{"version": 1, "steps": 11, "active": 2, "frozen": True}]


def test_a_program_that_does_not_load_is_listed_with_why(engine: EngineDeps, tmp_path: Path) -> None:
    copy = tmp_path / "content"
    shutil.copytree(engine.catalog.content_dir / "twitching", copy / "twitching")
    (copy / "broken").mkdir()
    (copy / "broken" / "program.yaml").write_text("id: broken\n")
    rows = list_programs(ProgramCatalog(copy), engine.store)
    assert [r.id for r in rows] == ["broken", "twitching"] and rows[0].error and rows[1].active == 0
    assert rows[0].versions == () and [v.version for v in rows[1].versions] == [1]
