"""The retry policy for transient provider errors: decides, and computes nothing else."""

from __future__ import annotations

MAX_ATTEMPTS = 6


def compute_backoff(*, attempts: int, base_seconds: float = 2.0, max_seconds: float = 300.0, jitter: float) -> float:
    """Seconds to wait after the `attempts`-th failed try: exponential, capped, with full jitter.

    `jitter` is a number in [0, 1) supplied by the caller (random.random() in production), so
    the function stays pure and testable.
    """
    ceiling = min(max_seconds, base_seconds * float(2 ** max(attempts - 1, 0)))
    return ceiling / 2 + ceiling / 2 * jitter


def should_retry(attempts: int) -> bool:
    return attempts < MAX_ATTEMPTS
