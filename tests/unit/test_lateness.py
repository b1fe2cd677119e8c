"""Lateness buckets and the quantiles estimated from them (worker.lateness): rows of (input,
expected), no Redis."""

from __future__ import annotations

import pytest

from worker.lateness import BOUNDS, INF, bucket, merge, quantile


@pytest.mark.parametrize(
    ("lateness_s", "expected"),
    [(-3, 1), (0, 1), (1, 1), (2, 5), (5, 5), (6, 15), (59, 60), (61, 300), (3600, 3600), (14400, 14400),
     (14401, INF), (10**9, INF)],
)  # fmt: skip
def test_each_lateness_falls_in_one_bucket(lateness_s: int, expected: int) -> None:
    assert bucket(lateness_s) == expected


@pytest.mark.parametrize(
    ("counts", "q", "expected"),
    [
        ({}, 0.5, None),
        ({1: 10}, 0.5, 0.5),  # 10 messages within a second: the median half-way into it
        ({1: 99, 3600: 1}, 0.5, 50 / 99),  # rank 50 of the 99 in (0, 1]
        ({1: 99, 3600: 1}, 0.99, 1.0),  # the 99th of 100 is still within the first second
        ({1: 98, 3600: 2}, 0.99, 900 + (3600 - 900) * 0.5),  # the 99th falls half-way into (900, 3600]
        ({60: 4}, 1.0, 60.0),
        ({INF: 3}, 0.5, float(BOUNDS[-1])),  # past the last bound: at least that late
        ({1: 1, INF: 1}, 0.99, float(BOUNDS[-1])),
    ],
)
def test_quantiles_interpolate_within_their_bucket(counts: dict[int, int], q: float, expected: float | None) -> None:
    found = quantile(counts, q)
    assert found == (None if expected is None else pytest.approx(expected))


def test_minutes_merge_into_one_window() -> None:
    assert merge([{1: 2, 60: 1}, {1: 3}, {}]) == {1: 5, 60: 1}
