"""An anchor PATCH racing a send: the next step is timed from the new anchor, never the old one."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.support.engine import make_deps, new_enrollment, outbox_lines, run_until_idle, send_inline
from worker.channels.base import OutgoingMessage, SendResult
from worker.channels.outbox import OutboxChannel
from worker.clock import FixedClock
from worker.delivery.dispatch import dispatch_once
from worker.deps import EngineDeps
from worker.enrollment import EnrollmentChanges, enroll, update

NY = ZoneInfo("America/New_York")
VISIT = datetime(2026, 3, 20, 15, 0, tzinfo=NY)  # notes 17 Mar 10:00, medicines list 19 Mar 18:00
MOVED = datetime(2026, 3, 25, 15, 0, tzinfo=NY)  # medicines list 24 Mar 18:00


class PatchingChannel(OutboxChannel):
    """The outbox, with the visit moved while the provider call is in flight."""

    def __init__(self, path: Path, engine: EngineDeps, eid: str) -> None:
        super().__init__("sms", path)
        self._engine, self._eid = engine, eid

    def send_many(self, messages: list[OutgoingMessage], *, now: datetime) -> list[SendResult | Exception]:
        update(self._engine, self._eid, EnrollmentChanges(anchors={"visit": MOVED}))
        return super().send_many(messages, now=now)


def test_a_send_finishing_after_an_anchor_patch_times_the_next_step_from_the_new_anchor(
    redis_url: str, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.jsonl"
    deps = make_deps(redis_url, outbox)
    clock = deps.engine.clock
    assert isinstance(clock, FixedClock)
    new = new_enrollment(program="visit-prep", channels=("sms",), email=None, anchors={"visit": VISIT})
    eid = enroll(deps.engine, new)[0].id
    run_until_idle(deps, until=clock.now())  # the welcome
    clock.set(datetime(2026, 3, 17, 10, 0, tzinfo=NY))
    patching = dataclasses.replace(deps, channels={**deps.channels, "sms": PatchingChannel(outbox, deps.engine, eid)})
    dispatch_once(patching, send_inline(patching))  # notes goes out while the visit moves
    stored = deps.engine.store.get_enrollment(eid)
    assert stored is not None and stored.cursor["sms"] == 2 and stored.anchors == {"visit": MOVED}
    assert stored.next_due["sms"] == datetime(2026, 3, 24, 18, 0, tzinfo=NY)
    run_until_idle(deps)
    sent = [(m["step"], m["local_time"][:16]) for m in outbox_lines(outbox)]
    assert sent == [
        ("welcome", "2026-03-02T10:00"),
        ("notes", "2026-03-17T10:00"),
        ("medicines-list", "2026-03-24T18:00"),
        ("after-visit", "2026-03-30T10:00"),
    ]
