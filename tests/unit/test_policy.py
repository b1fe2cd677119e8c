"""The sending policy's values and their text forms: quiet hours and caps."""

from __future__ import annotations

from datetime import time

import pytest

from worker.policy import Caps, QuietHours, parse_caps, parse_quiet_hours


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("21:00-08:00", QuietHours(time(21, 0), time(8, 0))),
        (" 7:05 - 9:30 ", QuietHours(time(7, 5), time(9, 30))),
        ("00:00-00:00", QuietHours(time(0, 0), time(0, 0))),
    ],
)
def test_parse_quiet_hours(raw: str, expected: QuietHours) -> None:
    assert parse_quiet_hours(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sms:1/day,3/week", Caps({"sms": 1}, {"sms": 3})),
        ("sms:2/day;email:1/day,4/week", Caps({"sms": 2, "email": 1}, {"email": 4})),
        ("", Caps({}, {})),
    ],
)
def test_parse_caps(raw: str, expected: Caps) -> None:
    assert parse_caps(raw) == expected


@pytest.mark.parametrize(
    ("quiet", "inside", "outside"),
    [
        (QuietHours(time(21), time(8)), [time(21), time(23, 59), time(0), time(7, 59)], [time(8), time(20, 59)]),
        (QuietHours(time(12), time(13)), [time(12), time(12, 59)], [time(11, 59), time(13), time(0)]),
        (QuietHours(time(8), time(8)), [], [time(8), time(0), time(23)]),
    ],
)
def test_quiet_hours_contains(quiet: QuietHours, inside: list[time], outside: list[time]) -> None:
    assert all(quiet.contains(t) for t in inside)
    assert not any(quiet.contains(t) for t in outside)


@pytest.mark.parametrize("raw", ["9pm-8am", "21:00-25:00", "21:60-08:00", "21:00"])
def test_parse_quiet_hours_refuses(raw: str) -> None:
    with pytest.raises(ValueError, match=r"HH:MM|time of day"):
        parse_quiet_hours(raw)


@pytest.mark.parametrize("raw", ["sms:1/month", "fax:1/day", "sms:1/day;;email", "sms:0/day", "email:2/day,0/week"])
def test_parse_caps_refuses(raw: str) -> None:
    """A cap of 0 is refused too: it would hold messages forever (the scheduler cannot place them)."""
    with pytest.raises(ValueError, match=r"expected e\.g\. sms:1/day|at least 1"):
        parse_caps(raw)
