"""Active enrollments counted per program and version, from the due index: no SCAN over the keyspace.

Every active enrollment with a message to come has an entry in a channel's due index or lease
set; a count reads those members (10,000 a round trip) and each one's state, program and version
(one HMGET each, pipelined 10,000 a round trip; no `v` field is version 1). The cost grows with
active enrollments (about a second per million on this machine's Redis), not with everything
stored; paused and ended ones are not counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import redis

from worker.records import CHANNELS, EnrollmentState
from worker.store.keys import due_key, enrollment_key, lease_key

PAGE = 10_000


def active_by_version(client: redis.Redis, channels: Sequence[str] = CHANNELS) -> dict[tuple[str, int], int]:
    """(program id, version) -> active enrollments with a message to come."""
    eids: set[str] = set()
    for key in [k for ch in channels for k in (due_key(ch), lease_key(ch))]:
        start = 0
        while True:
            page = client.zrange(key, start, start + PAGE - 1)
            eids.update(str(e) for e in page)
            if len(page) < PAGE:
                break
            start += PAGE
    counts: Counter[tuple[str, int]] = Counter()
    ordered = sorted(eids)
    for i in range(0, len(ordered), PAGE):
        pipe = client.pipeline(transaction=False)
        for eid in ordered[i : i + PAGE]:
            pipe.hmget(enrollment_key(eid), ["st", "p", "v"])
        for state, program, version in pipe.execute():
            if state == EnrollmentState.ACTIVE.value and program:
                counts[(str(program), int(version or 1))] += 1
    return dict(counts)
