"""How long one provider call may take: the channel's own timeout, cut to what is left before
the send batch's deadline (worker.delivery.deadline).

The send path sets the deadline around `send_many` (`call_deadline`); channels that wait on a
network ask `call_timeout` right before each call. Outside a send batch there is no deadline
and a channel's own timeout stands. A call with no time left is not made at all: it fails as
transient (the provider certainly did not get the message), so it is tried again later.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from worker.errors import TransientChannelError

_DEADLINE: ContextVar[float | None] = ContextVar("caredrip_call_deadline", default=None)


@contextmanager
def call_deadline(at_monotonic: float | None) -> Iterator[None]:
    """Provider calls made inside (in this thread) end by `at_monotonic` (time.monotonic())."""
    token = _DEADLINE.set(at_monotonic)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def call_timeout(own_seconds: float) -> float:
    """`own_seconds`, or the time left before the deadline if that is shorter; raises
    TransientChannelError when none is left."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return own_seconds
    left = deadline - time.monotonic()
    if left <= 0:
        raise TransientChannelError("the send batch's deadline passed before the call", code="deadline")
    return min(own_seconds, left)
