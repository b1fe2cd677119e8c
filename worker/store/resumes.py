"""The patient's own pauses (PAUSE / PAUSA): when each enrollment they paused resumes by itself.

One sorted set, enrollment id -> resume time (epoch ms, caredrip clock). The dispatch tick reads
what is due (`due`), resumes it, then takes the entry out only if it still holds the time it read
(resume_done.lua): a PAUSE texted again meanwhile moved it on, and it stays.
"""

from __future__ import annotations

from datetime import datetime

from worker.records import epoch_ms
from worker.store.keys import PATIENT_RESUMES
from worker.store.ops import Call, ScriptCall, command, effect, one


def schedule(eid: str, at: datetime) -> Call[None]:
    """Resume `eid` at `at` (a later PAUSE moves it to its own time)."""
    return effect(command("zadd", PATIENT_RESUMES, {eid: epoch_ms(at)}))


def due(now: datetime, limit: int) -> Call[list[tuple[str, int]]]:
    """Up to `limit` entries due by `now`: (enrollment id, the time it holds, epoch ms)."""
    op = command("zrangebyscore", PATIENT_RESUMES, "-inf", epoch_ms(now), start=0, num=limit, withscores=True)
    return one(op, lambda raw: [(str(eid), int(score)) for eid, score in raw])


def done(eid: str, at_ms: int) -> Call[bool]:
    """Take `eid` out if it still holds `at_ms` (resume_done.lua); True when it did."""
    return one(ScriptCall("resume_done", [PATIENT_RESUMES], [eid, at_ms]), bool)


def pending(eid: str) -> Call[int | None]:
    """When `eid` is to resume (epoch ms), or None."""
    return one(command("zscore", PATIENT_RESUMES, eid), lambda raw: None if raw is None else int(raw))
