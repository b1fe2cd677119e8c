"""Lateness as a small fixed histogram: the buckets a sent message's lateness (seconds after it
was due) is counted in, per minute (`late:<upper bound>` in `cd:stats:m:<minute>`), and the
quantiles (p50, p99) estimated from such counts.

Fixed bounds keep a minute's hash to a handful of fields whatever the volume; a quantile is
interpolated linearly inside the bucket it falls in (as Prometheus' histogram_quantile does),
so it is exact to within its bucket's width. The last bucket has no upper bound: a quantile
falling there answers its lower bound (at least that late).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Upper bounds in seconds (inclusive); lateness above the last goes to `INF`.
BOUNDS = (1, 5, 15, 60, 300, 900, 3600, 14400)
INF = 0  # the open last bucket's key: `late:0` (0 is never an upper bound)
FIELD = "late:"


def bucket(lateness_s: int) -> int:
    """The bucket a lateness is counted in: its upper bound, or INF past the last."""
    for bound in BOUNDS:
        if lateness_s <= bound:
            return bound
    return INF


def merge(counts: Iterable[Mapping[int, int]]) -> dict[int, int]:
    """Bucket counts added up (several minutes into one window)."""
    total: dict[int, int] = {}
    for one in counts:
        for b, n in one.items():
            total[b] = total.get(b, 0) + n
    return total


def quantile(counts: Mapping[int, int], q: float) -> float | None:
    """The `q` quantile (0 < q <= 1) of the lateness counted in `counts`, in seconds; None when
    nothing was counted."""
    total = sum(counts.values())
    if total <= 0:
        return None
    rank = q * total
    seen, lower = 0, 0.0
    for bound in (*BOUNDS, INF):
        n = counts.get(bound, 0)
        if n and seen + n >= rank:
            if bound == INF:
                return float(BOUNDS[-1])
            return lower + (bound - lower) * (rank - seen) / n
        seen += n
        lower = float(bound) if bound != INF else lower
    return float(BOUNDS[-1])
