"""The catch-up policy: which steps, already past when they could first go, are skipped as `late`.

A step is *late* when its program time (before quiet hours and caps) is earlier than the
enrollment's catch-up mark: when the enrollment was created (a `start_at` or an anchor in the
past), when an anchor last changed, or when a pause last ended (`Enrollment.late_mark`). The
program's `catch_up` (worker.programs.CatchUp) then decides:

- `all` (the default, and caredrip's behaviour before the policy existed): every late step is
  sent, in order, one per slot the caps and quiet hours allow;
- `latest`: only the most recent late step is sent, the others are recorded `skipped` (`late`);
- `skip`: every late step is recorded `skipped` (`late`).

A channel's first step is never skipped: it introduces the program (the first SMS names the
clinic and says STOP and HELP). The rule is pure, over due times, so the send path
(worker.delivery.send), `caredrip simulate`, `caredrip lint` and `caredrip explain` ask the same
question and get the same answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from worker.programs import CatchUp

LATE = "late"  # the `reason` of a step the policy skipped


def late_indexes(policy: CatchUp, dues: Sequence[datetime], mark: datetime, first: int = 0) -> set[int]:
    """The indexes (from `first` on) of the steps due at `dues` that `policy` skips as late when
    the catch-up mark is `mark`."""
    if policy is CatchUp.ALL:
        return set()
    past = [i for i in range(first, len(dues)) if dues[i] < mark]
    if policy is CatchUp.LATEST and past:
        past.remove(max(past, key=lambda i: (dues[i], i)))
    return {i for i in past if i != 0}


def is_late(policy: CatchUp, dues: Sequence[datetime], cursor: int, mark: datetime) -> bool:
    """Whether the step at `cursor` is skipped as late (the send path's question)."""
    return cursor in late_indexes(policy, dues, mark, first=cursor)
