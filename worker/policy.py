"""The sending policy as plain values: quiet hours and frequency caps, and their text forms.

`QuietHours` and `Caps` are what the scheduler, the engine, lint and simulate take as
arguments; `parse_quiet_hours` and `parse_caps` read the forms used by the settings
(`CAREDRIP_QUIET_HOURS=21:00-08:00`, `CAREDRIP_CAPS=sms:1/day,3/week`). No I/O, no settings:
pure modules such as `worker.schedule` import these without pulling in pydantic-settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time

_CAP_RE = re.compile(r"^(sms|email):(\d+/(day|week))(,\d+/(day|week))*$")


@dataclass(frozen=True)
class QuietHours:
    """A daily window in the recipient's local time when nothing is sent; may cross midnight."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True)
class Caps:
    """Frequency caps per recipient (its number or address) and channel: at most `per_day` a local
    day, `per_week` in 7x24 h."""

    per_day: dict[str, int]
    per_week: dict[str, int]


def parse_quiet_hours(raw: str) -> QuietHours:
    """`21:00-08:00` -> QuietHours; raises ValueError with the expected shape."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", raw)
    if not match:
        raise ValueError("expected HH:MM-HH:MM, e.g. 21:00-08:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    try:
        return QuietHours(time(h1, m1), time(h2, m2))
    except ValueError as exc:
        raise ValueError(f"not a time of day: {exc}") from None


def parse_caps(raw: str) -> Caps:
    """`sms:1/day,3/week;email:2/day` -> Caps; an empty string means no caps."""
    per_day: dict[str, int] = {}
    per_week: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in raw.split(";"))):
        if not _CAP_RE.match(part):
            raise ValueError(f"expected e.g. sms:1/day,3/week, got {part!r}")
        channel, limits = part.split(":", 1)
        for limit in limits.split(","):
            count, unit = limit.split("/")
            if int(count) < 1:
                raise ValueError(f"a cap of {limit} would hold every {channel} message forever: at least 1")
            (per_day if unit == "day" else per_week)[channel] = int(count)
    return Caps(per_day, per_week)
