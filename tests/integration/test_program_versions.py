"""Program versions on a real Redis, driven through virtual weeks with a fixed clock: a patient in
flight on version 1 while version 2 ships (a step added before their cursor, one removed, one
moved, one retimed under its id, one reworded) gets every version-1 step exactly once and none of
version 2's; a new enrollment starts on version 2."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from tests.support.engine import make_deps, new_enrollment, outbox_lines, run_until_idle
from tests.support.versions import ADDED, MOVED, NEW_WORDS, REMOVED, RETIMED, REWORDED, copy_content, ship_v2
from worker.delivery.types import DeliveryDeps
from worker.enrollment import enroll
from worker.explain import explain, schedule_json
from worker.program_list import list_programs
from worker.programs import ProgramCatalog
from worker.records import EnrollmentState
from worker.store.keys import enrollment_key

NY = ZoneInfo("America/New_York")
START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 10:00 in New York


def _deployed(deps: DeliveryDeps, content: Path) -> DeliveryDeps:
    """The same Redis, clock and outbox with the content as a (re)started worker loads it."""
    return dataclasses.replace(deps, engine=dataclasses.replace(deps.engine, catalog=ProgramCatalog(content)))


def _steps(lines: list[dict[str, Any]], eid: str, channel: str) -> list[str]:
    return [line["step"] for line in lines if line["enrollment_id"] == eid and line["channel"] == channel]


def test_in_flight_patient_keeps_version_1_while_version_2_ships(redis_url: str, tmp_path: Path) -> None:
    content = copy_content(tmp_path)
    v1_ids = [s["id"] for s in yaml.safe_load((content / "twitching" / "versions" / "1.yaml").read_text())["steps"]]
    outbox = tmp_path / "outbox.jsonl"
    deps = _deployed(make_deps(redis_url, outbox, clock=None), content)
    deps.engine.clock.set(START)  # type: ignore[attr-defined]
    ana, _ = enroll(deps.engine, new_enrollment("p-ana"))
    run_until_idle(deps, until=datetime(2026, 3, 11, 12, 0, tzinfo=NY))  # day 9: welcome .. stress sent
    assert _steps(outbox_lines(outbox), ana.id, "sms") == v1_ids[:4]

    v2_ids = [s["id"] for s in ship_v2(content)]
    deps = _deployed(deps, content)
    ben, created = enroll(deps.engine, new_enrollment("p-ben", phone="+14155550123", email="ben@example.com"))
    assert created and ben.version == 2
    assert deps.engine.store.redis.hget(enrollment_key(ben.id), "v") == "2"
    assert deps.engine.store.redis.hget(enrollment_key(ana.id), "v") is None  # version 1: nothing stored
    ana_plan = schedule_json(explain(deps.engine, ana.id, None, deps.caps))
    assert ana_plan["program_version"] == 1  # explain lists her version's steps, past and planned
    assert [m["step"] for m in ana_plan["messages"] if m["channel"] == "sms"] == v1_ids
    [row] = list_programs(deps.engine.catalog, deps.engine.store)
    assert row.version == 2 and [(v.version, v.active, v.frozen) for v in row.versions] == [(1, 1, True), (2, 1, True)]

    run_until_idle(deps)
    lines = outbox_lines(outbox)
    for channel in ("sms", "email"):
        assert _steps(lines, ana.id, channel) == v1_ids  # each version-1 step once, in order
        assert _steps(lines, ben.id, channel) == v2_ids
    assert ADDED["id"] not in v1_ids and MOVED["id"] not in v1_ids and REMOVED not in v2_ids
    ana_lines = {(x["step"], x["channel"]): x for x in lines if x["enrollment_id"] == ana.id}
    stretching = datetime.fromisoformat(ana_lines[(RETIMED, "sms")]["local_time"])
    assert stretching.date() == date(2026, 3, 18) and stretching.hour == 10  # day 16, as version 1 has it
    ben_stretching = next(x for x in lines if x["enrollment_id"] == ben.id and x["step"] == RETIMED)
    ben_day = datetime.fromisoformat(ben_stretching["local_time"]).date() - ben.anchor.astimezone(NY).date()
    assert ben_day.days == 17  # version 2's day
    assert ana_lines[(REWORDED, "sms")]["body"] == NEW_WORDS.replace("{{ first_name }}", "Ana")  # newest words
    for eid in (ana.id, ben.id):
        stored = deps.engine.store.get_enrollment(eid)
        assert stored is not None and stored.state is EnrollmentState.COMPLETED
        assert len({(r.step, r.channel) for r in deps.engine.store.records(eid)}) == len(deps.engine.store.records(eid))


def test_a_version_that_no_longer_loads_holds_its_patients_alone(redis_url: str, tmp_path: Path) -> None:
    """Lint refuses it, but should a released version's file go missing in production, its
    patients wait (an hour at a time, logged) rather than get another version's step, and the
    rest of their batch goes on."""
    content = copy_content(tmp_path)
    outbox = tmp_path / "outbox.jsonl"
    deps = _deployed(make_deps(redis_url, outbox), content)
    deps.engine.clock.set(START)  # type: ignore[attr-defined]
    ana, _ = enroll(deps.engine, new_enrollment("p-ana"))
    run_until_idle(deps, until=datetime(2026, 3, 5, 12, 0, tzinfo=NY))  # welcome and hydration sent
    ship_v2(content)
    frozen = content / "twitching" / "versions" / "1.yaml"
    kept = frozen.read_text()
    frozen.unlink()
    deps = _deployed(deps, content)
    ben, _ = enroll(deps.engine, new_enrollment("p-ben", phone="+14155550123", email="ben@example.com"))
    run_until_idle(deps, until=datetime(2026, 3, 8, 12, 0, tzinfo=NY))
    lines = outbox_lines(outbox)
    assert _steps(lines, ana.id, "sms") == ["welcome", "hydration"]  # held at sleep: nothing else
    assert _steps(lines, ben.id, "sms")[:2] == ["welcome", "hydration"]  # others go on
    assert deps.engine.store.get_enrollment(ana.id).cursor["sms"] == 2  # type: ignore[union-attr]

    frozen.write_text(kept)  # restored and redeployed: the held steps go, each once
    deps = _deployed(deps, content)
    run_until_idle(deps)
    v1_ids = [s["id"] for s in yaml.safe_load(kept)["steps"]]
    assert _steps(outbox_lines(outbox), ana.id, "sms") == v1_ids
