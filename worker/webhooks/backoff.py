"""When to try a webhook delivery again: exponential backoff with jitter, for 24 hours in all.

Any answer other than 2xx, and no answer within ATTEMPT_TIMEOUT_SECONDS, is a failed attempt.
The policy only decides: the caller passes the attempt count, the time spent so far and the
jitter (random.random() in production), as in dramatiq's compute_backoff.
"""

from __future__ import annotations

from collections.abc import Iterable

RETRY_WINDOW_SECONDS = 24 * 3600.0  # the last attempt is made this long after the first
ATTEMPT_TIMEOUT_SECONDS = 10.0
BASE_SECONDS = 30.0
MAX_SECONDS = 3600.0  # at most an hour between tries: an alert reaches a clinic soon after it is back


def backoff_seconds(
    *, attempts: int, jitter: float, base_seconds: float = BASE_SECONDS, max_seconds: float = MAX_SECONDS
) -> float:
    """Seconds to wait after the `attempts`-th failed attempt (1 = the first): the ceiling
    doubles from `base_seconds` up to `max_seconds`, and `jitter` in [0, 1) picks a wait
    between half the ceiling and all of it."""
    if attempts < 1:
        raise ValueError("attempts counts failed attempts, from 1")
    if not 0.0 <= jitter < 1.0:
        raise ValueError("jitter must be in [0, 1)")
    ceiling = min(max_seconds, base_seconds * 2.0 ** min(attempts - 1, 62))
    return ceiling / 2 + ceiling / 2 * jitter


def next_delay_seconds(
    *, attempts: int, elapsed_seconds: float, jitter: float, window_seconds: float = RETRY_WINDOW_SECONDS
) -> float | None:
    """Seconds from now to the next attempt, or None to give up. `elapsed_seconds` is the time
    since the first attempt; the wait is cut so the last attempt lands when the window ends."""
    if elapsed_seconds >= window_seconds:
        return None
    return min(backoff_seconds(attempts=attempts, jitter=jitter), window_seconds - elapsed_seconds)


def retry_offsets(*, jitters: Iterable[float], window_seconds: float = RETRY_WINDOW_SECONDS) -> list[float]:
    """Seconds after the first attempt of every retry, if all fail: one jitter per retry (the
    last one repeats when they run out; none at all means 0). The last offset is `window_seconds`."""
    offsets: list[float] = []
    elapsed, attempts, jitter = 0.0, 1, 0.0
    source = iter(jitters)
    while True:
        jitter = next(source, jitter)
        delay = next_delay_seconds(
            attempts=attempts, elapsed_seconds=elapsed, jitter=jitter, window_seconds=window_seconds
        )
        if delay is None:
            return offsets
        elapsed += delay
        attempts += 1
        offsets.append(elapsed)
