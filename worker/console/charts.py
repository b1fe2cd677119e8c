"""The series behind Operations' charts: sends per minute and lateness p50/p99 over the last 24
hours, from the per-minute counts the send path keeps (`cd:stats:m:<minute>`, worker.lateness).

Pure: it turns the minutes the store hands back into the JSON the page's uPlot charts read
(GET /console/operations/series.json) and the 24-hour summary printed beside them.
"""

from __future__ import annotations

from typing import Any

from worker.lateness import merge, quantile
from worker.store import MinuteCounts

MINUTES = 24 * 60
STATES = ("sent", "failed", "unknown", "retrying")


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def summary(minutes: list[MinuteCounts]) -> dict[str, Any]:
    """The window's totals by state and its lateness p50/p99 (seconds; None: nothing sent)."""
    buckets = merge(m.late for m in minutes)
    totals = {s: sum(m.states.get(s, 0) for m in minutes) for s in STATES}
    return {**totals, "p50_s": _seconds(quantile(buckets, 0.5)), "p99_s": _seconds(quantile(buckets, 0.99))}


def series(minutes: list[MinuteCounts]) -> dict[str, Any]:
    """Per minute, oldest first: `t` (unix seconds), the count of each state, and the minute's
    lateness `late_p50_s` / `late_p99_s` (null in a minute with nothing sent); plus `summary`."""
    return {
        "minutes": len(minutes),
        "t": [int(m.minute.timestamp()) for m in minutes],
        **{s: [m.states.get(s, 0) for m in minutes] for s in STATES},
        "late_p50_s": [_seconds(quantile(m.late, 0.5)) for m in minutes],
        "late_p99_s": [_seconds(quantile(m.late, 0.99)) for m in minutes],
        "summary": summary(minutes),
    }
